package journal

import (
	"bytes"
	"errors"
	"fmt"
	"math"
)

var errTruncated = errors.New("truncated")

type decoder struct {
	b         []byte // the input not read yet
	lastStore string // the previous store name decoded, reused to save an allocation
}

func (d *decoder) entry(e *Entry) error {
	return d.fields(func(k byte) (err error) {
		switch k {
		case 'i':
			e.TxID, err = d.str(MaxTxIDSize)
		case 'd':
			e.Domain, err = d.str(MaxDomainName)
		case 'r':
			e.ReadVersion, err = d.uint()
		case 'n':
			e.Node, err = d.str(MaxNodeName)
		case 't':
			e.Time, err = d.int()
		case 'c':
			e.Conds, err = d.conds()
		case 'o':
			e.Ops, err = d.ops()
		default:
			err = d.skip()
		}
		return err
	})
}

func (d *decoder) op(o *Op) error {
	return d.fields(func(k byte) (err error) {
		switch k {
		case 'k':
			var v uint8
			v, err = d.kind()
			o.Kind = OpKind(v)
		case 's':
			o.Store, err = d.store()
		case 'y':
			o.Key, err = d.bytes(MaxKeySize)
		case 'v':
			o.Value, err = d.bytes(MaxValueSize)
		case 'x':
			o.Index, err = d.index()
		default:
			err = d.skip()
		}
		return err
	})
}

func (d *decoder) indexField(f *IndexField) error {
	return d.fields(func(k byte) (err error) {
		switch k {
		case 'f':
			f.Field, err = d.str(MaxFieldName)
		case 'd':
			f.Desc, err = d.bool()
		default:
			err = d.skip()
		}
		return err
	})
}

func (d *decoder) cond(c *Cond) error {
	return d.fields(func(k byte) (err error) {
		switch k {
		case 'k':
			var v uint8
			v, err = d.kind()
			c.Kind = CondKind(v)
		case 's':
			c.Store, err = d.store()
		case 'y':
			c.Key, err = d.bytes(MaxKeySize)
		case 'v':
			c.Version, err = d.uint()
		default:
			err = d.skip()
		}
		return err
	})
}

// fields reads a map with string keys and calls field for each. field gets
// the key's byte for one-byte keys, or 0 for longer keys, which no version
// of the format defines; it skips keys it does not know. A one-byte key may
// appear once per map.
func (d *decoder) fields(field func(k byte) error) error {
	n, err := d.mapLen()
	if err != nil {
		return err
	}
	var seen [256 / 64]uint64
	for range n {
		if len(d.b) > 0 && !isStr(d.b[0]) {
			return fmt.Errorf("map key: want a string, got code 0x%02x", d.b[0])
		}
		k, err := d.raw(math.MaxUint32)
		if err != nil {
			return fmt.Errorf("map key: %w", err)
		}
		var c byte
		if len(k) == 1 {
			c = k[0]
			if seen[c/64]&(1<<(c%64)) != 0 {
				return fmt.Errorf("key %q appears twice", k)
			}
			seen[c/64] |= 1 << (c % 64)
		}
		if err := field(c); err != nil {
			return fmt.Errorf("field %q: %w", k, err)
		}
	}
	return nil
}

// ops, conds and index read the lists. They are three functions rather than
// one generic one because calling through a function value would move the
// decoder to the heap.

func (d *decoder) ops() ([]Op, error) {
	n, err := d.arrayLen(MaxOps)
	if err != nil || n == 0 {
		return nil, err
	}
	ops := make([]Op, n)
	for i := range ops {
		if err := d.op(&ops[i]); err != nil {
			return nil, fmt.Errorf("op %d: %w", i, err)
		}
	}
	return ops, nil
}

func (d *decoder) conds() ([]Cond, error) {
	n, err := d.arrayLen(MaxConds)
	if err != nil || n == 0 {
		return nil, err
	}
	conds := make([]Cond, n)
	for i := range conds {
		if err := d.cond(&conds[i]); err != nil {
			return nil, fmt.Errorf("cond %d: %w", i, err)
		}
	}
	return conds, nil
}

func (d *decoder) index() ([]IndexField, error) {
	n, err := d.arrayLen(MaxIndexFields)
	if err != nil || n == 0 {
		return nil, err
	}
	index := make([]IndexField, n)
	for i := range index {
		if err := d.indexField(&index[i]); err != nil {
			return nil, fmt.Errorf("index field %d: %w", i, err)
		}
	}
	return index, nil
}

func isStr(c byte) bool { return c >= 0xa0 && c <= 0xbf || c >= 0xd9 && c <= 0xdb }

// code consumes and returns the next type code.
func (d *decoder) code() (byte, error) {
	if len(d.b) == 0 {
		return 0, errTruncated
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c, nil
}

// take consumes and returns the next n bytes.
func (d *decoder) take(n uint64) ([]byte, error) {
	if n > uint64(len(d.b)) {
		return nil, fmt.Errorf("%w: %d bytes declared, %d left", errTruncated, n, len(d.b))
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v, nil
}

// be consumes an n-byte big-endian unsigned integer (n is 1, 2, 4 or 8).
func (d *decoder) be(n uint64) (uint64, error) {
	b, err := d.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

// length consumes the header of a map (isMap) or an array of at most max
// elements, each taking at least per bytes. nil reads as empty.
func (d *decoder) length(isMap bool, max, per int) (int, error) {
	c, err := d.code()
	if err != nil {
		return 0, err
	}
	fix, code16, what, want := byte(0x90), byte(0xdc), "array", "an array"
	if isMap {
		fix, code16, what, want = 0x80, 0xde, "map", "a map"
	}
	var n uint64
	switch {
	case c == 0xc0:
	case c&0xf0 == fix:
		n = uint64(c & 0x0f)
	case c == code16:
		n, err = d.be(2)
	case c == code16+1:
		n, err = d.be(4)
	default:
		return 0, fmt.Errorf("want %s, got code 0x%02x", want, c)
	}
	switch {
	case err != nil:
		return 0, err
	case n > uint64(max):
		return 0, fmt.Errorf("%s of %d elements, the limit is %d", what, n, max)
	case n > uint64(len(d.b)/per):
		return 0, fmt.Errorf("%w: %s of %d elements declared, %d bytes left", errTruncated, what, n, len(d.b))
	}
	return int(n), nil
}

func (d *decoder) mapLen() (int, error)          { return d.length(true, math.MaxInt, 2) }
func (d *decoder) arrayLen(max int) (int, error) { return d.length(false, max, 1) }

// raw consumes a str or bin value of at most max bytes and returns it as a
// slice of the input. Either type is accepted for every string or byte
// field, since encoders in other languages differ; nil reads as empty.
func (d *decoder) raw(max uint64) ([]byte, error) {
	c, err := d.code()
	if err != nil {
		return nil, err
	}
	var n uint64
	switch {
	case c == 0xc0:
	case c >= 0xa0 && c <= 0xbf:
		n = uint64(c & 0x1f)
	case c == 0xd9 || c == 0xc4:
		n, err = d.be(1)
	case c == 0xda || c == 0xc5:
		n, err = d.be(2)
	case c == 0xdb || c == 0xc6:
		n, err = d.be(4)
	default:
		return nil, fmt.Errorf("want a string or bytes, got code 0x%02x", c)
	}
	if err == nil && n > max {
		err = fmt.Errorf("%d bytes, the limit is %d", n, max)
	}
	if err != nil {
		return nil, err
	}
	return d.take(n)
}

func (d *decoder) str(max uint64) (string, error) {
	b, err := d.raw(max)
	return string(b), err
}

// store reads a store name, reusing the previous one when it repeats (the
// usual case: many writes to one store).
func (d *decoder) store() (string, error) {
	b, err := d.raw(MaxStoreName)
	if err != nil || string(b) == d.lastStore {
		return d.lastStore, err
	}
	d.lastStore = string(b)
	return d.lastStore, nil
}

func (d *decoder) bytes(max uint64) ([]byte, error) {
	b, err := d.raw(max)
	if err != nil || len(b) == 0 {
		return nil, err
	}
	return bytes.Clone(b), nil
}

// number consumes an integer of any msgpack width and returns its two's
// complement bits and whether it is negative.
func (d *decoder) number() (v uint64, neg bool, err error) {
	c, err := d.code()
	switch {
	case err != nil:
		return 0, false, err
	case c <= 0x7f:
		return uint64(c), false, nil
	case c >= 0xe0:
		return uint64(int8(c)), true, nil
	case c == 0xc0:
		return 0, false, nil
	case c >= 0xcc && c <= 0xcf: // uint 8, 16, 32, 64
		v, err = d.be(1 << (c - 0xcc))
		return v, false, err
	case c >= 0xd0 && c <= 0xd3: // int 8, 16, 32, 64
		size := uint64(1) << (c - 0xd0)
		v, err = d.be(size)
		shift := 64 - 8*size
		v = uint64(int64(v<<shift) >> shift) // sign-extend
		return v, int64(v) < 0, err
	}
	return 0, false, fmt.Errorf("want an integer, got code 0x%02x", c)
}

func (d *decoder) uint() (uint64, error) {
	v, neg, err := d.number()
	if err == nil && neg {
		err = fmt.Errorf("negative value %d", int64(v))
	}
	return v, err
}

func (d *decoder) int() (int64, error) {
	v, neg, err := d.number()
	if err == nil && !neg && v > math.MaxInt64 {
		err = fmt.Errorf("value %d overflows int64", v)
	}
	return int64(v), err
}

func (d *decoder) kind() (uint8, error) {
	v, err := d.uint()
	if err == nil && v > math.MaxUint8 {
		err = fmt.Errorf("unknown kind %d", v)
	}
	return uint8(v), err
}

func (d *decoder) bool() (bool, error) {
	c, err := d.code()
	switch {
	case err != nil || c == 0xc0 || c == 0xc2:
		return false, err
	case c == 0xc3:
		return true, nil
	}
	return false, fmt.Errorf("want a bool, got code 0x%02x", c)
}

// skip consumes one value of any type. It counts the values still to skip
// instead of recursing, so deep nesting costs no stack.
func (d *decoder) skip() error {
	for pending := 1; pending > 0; pending-- {
		if len(d.b) == 0 {
			return errTruncated
		}
		var n uint64 // bytes to skip after the code and any length
		var err error
		switch c := d.b[0]; {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
			n = 1
		case c&0xf0 == 0x80 || c == 0xde || c == 0xdf:
			var m int
			m, err = d.mapLen()
			pending += 2 * m
		case c&0xf0 == 0x90 || c == 0xdc || c == 0xdd:
			var m int
			m, err = d.arrayLen(math.MaxInt)
			pending += m
		case isStr(c) || c >= 0xc4 && c <= 0xc6:
			_, err = d.raw(math.MaxUint32)
		case c >= 0xcc && c <= 0xd3: // integers
			n = 1 + 1<<(c&3)
		case c == 0xca || c == 0xcb: // float 32, 64
			n = 1 + 4<<(c-0xca)
		case c >= 0xd4 && c <= 0xd8: // fixext 1, 2, 4, 8, 16: code, type, data
			n = 2 + 1<<(c-0xd4)
		case c >= 0xc7 && c <= 0xc9: // ext 8, 16, 32: code, length, type, data
			d.b = d.b[1:]
			n, err = d.be(1 << (c - 0xc7))
			n++
		default: // 0xc1, which msgpack never uses
			return fmt.Errorf("invalid code 0x%02x", c)
		}
		if err == nil && n > 0 {
			_, err = d.take(n)
		}
		if err != nil {
			return err
		}
		if pending-1 > len(d.b) {
			return fmt.Errorf("%w: %d values declared, %d bytes left", errTruncated, pending-1, len(d.b))
		}
	}
	return nil
}
