package index

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Type tags of the ascending encoding. Their order is the order of types.
const (
	tagNull   byte = 0x02
	tagFalse  byte = 0x03
	tagTrue   byte = 0x04
	tagNumber byte = 0x05
	tagString byte = 0x06
)

// String framing: 0x00 inside a string is escaped, 0x00 0x01 ends it.
const (
	escape     byte = 0x00
	escapedNul byte = 0xFF
	terminator byte = 0x01
)

// numberSize is the length of a number's body.
const numberSize = 8

// KeyOf returns the key of a document whose fields, in spec order, have
// the given values; it is AppendKey(nil, values). See AppendKey for the
// accepted types and errors; on error the key is nil.
func (s Spec) KeyOf(values []any) ([]byte, error) {
	return s.AppendKey(nil, values)
}

// AppendKey appends the key of values to dst and returns the extended
// slice. values holds one value per field, in spec order: nil, bool,
// float64, int, int64, uint64, json.Number (a JSON number literal) or
// string (any bytes, compared bytewise). Numbers become float64, so integers
// beyond ±2^53 may round, and -0 becomes 0.
//
// On error, AppendKey returns dst itself (bytes past its length, within its
// capacity, may have been overwritten) and an error wrapping
// ErrBadSpec, or ErrBadDoc naming the field: a wrong number of values, an
// unsupported type, NaN, an infinity, a json.Number that is not a JSON
// number or overflows float64, or a key longer than MaxKeySize.
func (s Spec) AppendKey(dst []byte, values []any) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return dst, err
	}
	if len(values) != len(s) {
		return dst, fmt.Errorf("%w: %d values for a specification of %d fields", ErrBadDoc, len(values), len(s))
	}
	return s.appendFields(dst, values, "key")
}

// Prefix returns the encoding of the first len(values) fields, which must
// not exceed len(s): exactly the keys whose first len(values) fields equal
// values (after the conversions of AppendKey) start with it, so a search by
// leading fields scans the keys with that prefix. No values give the empty
// prefix. Errors are those of AppendKey; on error the prefix is nil.
func (s Spec) Prefix(values []any) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if len(values) > len(s) {
		return nil, fmt.Errorf("%w: %d values for a prefix of a specification of %d fields", ErrBadDoc, len(values), len(s))
	}
	return s[:len(values)].appendFields(nil, values, "prefix")
}

// appendFields appends the encodings of values, one per field of s, and
// checks the MaxKeySize limit on what it appended; what names the result
// in that error. On error it returns dst as given.
func (s Spec) appendFields(dst []byte, values []any, what string) ([]byte, error) {
	out := dst
	for i, f := range s {
		if str, ok := values[i].(string); ok && len(out)-len(dst)+len(str) > MaxKeySize {
			// Cheap early exit before copying a huge string.
			return dst, tooLong(what, values)
		}
		var err error
		if out, err = appendValue(out, f, values[i]); err != nil {
			return dst, fmt.Errorf("%w: index field %q: %w", ErrBadDoc, f.Name, err)
		}
	}
	if len(out)-len(dst) > MaxKeySize {
		return dst, tooLong(what, values)
	}
	return out, nil
}

// tooLong is the error of a key or prefix over MaxKeySize.
func tooLong(what string, values []any) error {
	n := 0
	for _, v := range values {
		n += encodedSize(v)
	}
	return fmt.Errorf("%w: %s of %d bytes, the limit is %d", ErrBadDoc, what, n, MaxKeySize)
}

// encodedSize is the length of v's encoding (for a v that does not encode,
// the length a number's would have).
func encodedSize(v any) int {
	switch v := v.(type) {
	case string:
		n := 1 + len(v) + 2
		for i := 0; i < len(v); i++ {
			if v[i] == escape {
				n++
			}
		}
		return n
	case nil, bool:
		return 1
	default:
		return 1 + numberSize
	}
}

// appendValue appends the encoding of one field's value: ascending, or
// with every byte inverted for a descending field.
func appendValue(dst []byte, f Field, v any) ([]byte, error) {
	start := len(dst)
	switch v := v.(type) {
	case nil:
		dst = append(dst, tagNull)
	case bool:
		dst = append(dst, boolTag(v))
	case string:
		dst = appendString(dst, v)
	default:
		n, err := number(v)
		if err != nil {
			return dst, err
		}
		dst = appendNumber(dst, n)
	}
	if f.Desc {
		invert(dst[start:])
	}
	return dst, nil
}

func boolTag(b bool) byte {
	if b {
		return tagTrue
	}
	return tagFalse
}

// number converts a numeric value to the float64 the key orders by.
func number(v any) (float64, error) {
	var f float64
	switch v := v.(type) {
	case float64:
		f = v
	case int:
		f = float64(v)
	case int64:
		f = float64(v)
	case uint64:
		f = float64(v)
	case json.Number:
		return parseNumber(string(v))
	default:
		return 0, fmt.Errorf("value of type %T: index values are nil, bool, float64, int, int64, uint64, json.Number or string", v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("number %v: NaN and infinities cannot be indexed", f)
	}
	return f, nil
}

// parseNumber parses a JSON number literal.
func parseNumber(s string) (float64, error) {
	if !isJSONNumber(s) {
		return 0, fmt.Errorf("json.Number %q is not a JSON number", s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if errors.Is(err, strconv.ErrRange) && math.IsInf(f, 0) {
		return 0, fmt.Errorf("number %s is out of float64 range", s)
	}
	if err != nil {
		return 0, fmt.Errorf("number %s: %w", s, err)
	}
	return f, nil
}

// isJSONNumber reports whether s is exactly one JSON number literal, with
// no surrounding white space.
func isJSONNumber(s string) bool {
	if s == "" {
		return false
	}
	first, last := s[0], s[len(s)-1]
	return (first == '-' || isDigit(first)) && isDigit(last) && json.Valid([]byte(s))
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// appendNumber appends tag and body of a finite number: the IEEE 754 bits,
// big-endian, with the sign bit flipped for positives and every bit flipped
// for negatives, so the bytes order as the numbers do.
func appendNumber(dst []byte, f float64) []byte {
	if f == 0 {
		f = 0 // -0 == 0: both encode as +0
	}
	return binary.BigEndian.AppendUint64(append(dst, tagNumber), orderedBits(f))
}

func orderedBits(f float64) uint64 {
	b := math.Float64bits(f)
	if b>>63 == 0 {
		return b | 1<<63
	}
	return ^b
}

// appendString appends tag, the bytes of s with each 0x00 escaped as
// 0x00 0xFF, and the terminator 0x00 0x01.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, tagString)
	for i := 0; i < len(s); i++ {
		if s[i] == escape {
			dst = append(dst, escape, escapedNul)
		} else {
			dst = append(dst, s[i])
		}
	}
	return append(dst, escape, terminator)
}

// invert turns an ascending encoding into the descending one, in place.
func invert(b []byte) {
	for i := range b {
		b[i] ^= 0xFF
	}
}
