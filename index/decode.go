package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Decode returns the values a key holds, one per field in spec order: nil,
// bool, float64 or string. It is the inverse of KeyOf: KeyOf(Decode(key))
// returns key, so Decode accepts only canonical keys of s. Any other bytes,
// whatever they are, give an error wrapping ErrBadKey that names the field
// and byte offset (or ErrBadSpec for an invalid s); Decode never panics.
// The returned strings do not alias key.
func (s Spec) Decode(key []byte) ([]any, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if len(key) > MaxKeySize {
		return nil, fmt.Errorf("%w: key of %d bytes, the limit is %d", ErrBadKey, len(key), MaxKeySize)
	}
	values := make([]any, len(s))
	d := decoder{b: key}
	for i, f := range s {
		at := d.off
		v, err := d.value(f.Desc)
		if err != nil {
			return nil, fmt.Errorf("%w: field %d (%q) at byte %d: %w", ErrBadKey, i, f.Name, at, err)
		}
		values[i] = v
	}
	if rest := len(key) - d.off; rest > 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes at byte %d", ErrBadKey, rest, d.off)
	}
	return values, nil
}

// Reasons a field does not decode.
var (
	errNoField      = errors.New("key ends before the field")
	errShortNumber  = errors.New("number truncated")
	errNoTerminator = errors.New("string without terminator")
)

// decoder reads field encodings from b; off is the next byte.
type decoder struct {
	b   []byte
	off int
}

// value decodes one field, inverting every byte first when desc.
func (d *decoder) value(desc bool) (any, error) {
	var mask byte
	if desc {
		mask = 0xFF
	}
	if d.off >= len(d.b) {
		return nil, errNoField
	}
	raw := d.b[d.off]
	d.off++
	switch raw ^ mask {
	case tagNull:
		return nil, nil
	case tagFalse:
		return false, nil
	case tagTrue:
		return true, nil
	case tagNumber:
		return d.number(mask)
	case tagString:
		return d.string(mask)
	}
	return nil, fmt.Errorf("unknown tag 0x%02x", raw)
}

func (d *decoder) number(mask byte) (any, error) {
	if len(d.b)-d.off < numberSize {
		return nil, errShortNumber
	}
	u := binary.BigEndian.Uint64(d.b[d.off:])
	d.off += numberSize
	if mask != 0 {
		u = ^u
	}
	if u>>63 == 1 {
		u &^= 1 << 63
	} else {
		u = ^u
	}
	f := math.Float64frombits(u)
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return nil, fmt.Errorf("number %v", f)
	case u == 1<<63:
		return nil, errors.New("number -0: keys hold it as 0")
	}
	return f, nil
}

func (d *decoder) string(mask byte) (any, error) {
	var out []byte
	for {
		i := bytes.IndexByte(d.b[d.off:], escape^mask)
		if i < 0 || d.off+i+1 >= len(d.b) {
			return nil, errNoTerminator
		}
		out = appendMasked(out, d.b[d.off:d.off+i], mask)
		next := d.b[d.off+i+1] ^ mask
		d.off += i + 2
		switch next {
		case terminator:
			return string(out), nil
		case escapedNul:
			out = append(out, 0)
		default:
			return nil, fmt.Errorf("bad escape 0x%02x 0x%02x at byte %d", escape^mask, next^mask, d.off-2)
		}
	}
}

func appendMasked(dst, b []byte, mask byte) []byte {
	start := len(dst)
	dst = append(dst, b...)
	if mask != 0 {
		invert(dst[start:])
	}
	return dst
}
