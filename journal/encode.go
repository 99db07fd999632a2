package journal

import (
	"encoding/binary"
	"math"
)

// The encoder writes msgpack by hand (fixed key order, smallest integer and
// length forms), byte for byte what msgpack.Encoder writes for the same
// calls: entry_test.go checks it against github.com/vmihailenco/msgpack/v5.

// maxSize bounds the encoded size of a valid e, so MarshalBinary allocates
// once: msgpack headers take at most 5 bytes, integers at most 9, keys 2.
func (e *Entry) maxSize() int {
	n := 64 + len(e.TxID) + len(e.Domain) + len(e.Node)
	for i := range e.Conds {
		n += 32 + len(e.Conds[i].Store) + len(e.Conds[i].Key)
	}
	for i := range e.Ops {
		o := &e.Ops[i]
		n += 32 + len(o.Store) + len(o.Key) + len(o.Value)
		for _, f := range o.Index {
			n += 16 + len(f.Field)
		}
	}
	return n
}

// Encoding. Entries are MessagePack (https://msgpack.org/); sop writes the
// few types it needs by hand, with msgpack's usual shortest forms (what
// msgpack.Encoder's EncodeMapLen, EncodeString, EncodeBytes, EncodeUint and
// EncodeInt write; the tests check the bytes are identical). Every map is
// written with its keys in the fixed order of the format's key tables, and
// an op or cond carries exactly the keys its kind uses, so the bytes of an
// entry are stable across runs and builds.

func appendEntry(b []byte, e *Entry) []byte {
	b = append(b, 0x80|7) // fixmap of 7
	b = appendStr(appendKey(b, 'i'), e.TxID)
	b = appendStr(appendKey(b, 'd'), e.Domain)
	b = appendUint(appendKey(b, 'r'), e.ReadVersion)
	b = appendStr(appendKey(b, 'n'), e.Node)
	b = appendInt(appendKey(b, 't'), e.Time)
	b = appendLen(appendKey(b, 'c'), 0x90, 0xdc, len(e.Conds))
	for i := range e.Conds {
		b = appendCond(b, &e.Conds[i])
	}
	b = appendLen(appendKey(b, 'o'), 0x90, 0xdc, len(e.Ops))
	for i := range e.Ops {
		b = appendOp(b, &e.Ops[i])
	}
	return b
}

func appendOp(b []byte, o *Op) []byte {
	switch o.Kind {
	case OpPut:
		b = append(b, 0x80|4)
	case OpDelete, OpCreateStore:
		b = append(b, 0x80|3)
	default:
		b = append(b, 0x80|2)
	}
	b = appendUint(appendKey(b, 'k'), uint64(o.Kind))
	b = appendStr(appendKey(b, 's'), o.Store)
	switch o.Kind {
	case OpPut:
		b = appendBin(appendKey(b, 'y'), o.Key)
		b = appendBin(appendKey(b, 'v'), o.Value)
	case OpDelete:
		b = appendBin(appendKey(b, 'y'), o.Key)
	case OpCreateStore:
		b = appendLen(appendKey(b, 'x'), 0x90, 0xdc, len(o.Index))
		for _, f := range o.Index {
			b = appendStr(appendKey(append(b, 0x80|2), 'f'), f.Field)
			b = append(appendKey(b, 'd'), 0xc2) // false
			if f.Desc {
				b[len(b)-1] = 0xc3 // true
			}
		}
	}
	return b
}

func appendCond(b []byte, c *Cond) []byte {
	if c.Kind == CondVersion {
		b = append(b, 0x80|4)
	} else {
		b = append(b, 0x80|3)
	}
	b = appendUint(appendKey(b, 'k'), uint64(c.Kind))
	b = appendStr(appendKey(b, 's'), c.Store)
	b = appendBin(appendKey(b, 'y'), c.Key)
	if c.Kind == CondVersion {
		b = appendUint(appendKey(b, 'v'), c.Version)
	}
	return b
}

// appendKey appends a one-letter map key: a fixstr of length 1.
func appendKey(b []byte, k byte) []byte { return append(b, 0xa1, k) }

// appendLen appends the header of a map or array of n elements: fix is the
// fixmap or fixarray code, code16 the 16-bit form; the 32-bit form follows it.
func appendLen(b []byte, fix, code16 byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, fix|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, code16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, code16+1), uint32(n))
}

func appendStr(b []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

func appendBin(b, v []byte) []byte {
	switch n := len(v); {
	case n <= math.MaxUint8:
		b = append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
	return append(b, v...)
}

func appendUint(b []byte, v uint64) []byte {
	switch {
	case v <= 0x7f:
		return append(b, byte(v)) // positive fixint
	case v <= math.MaxUint8:
		return append(b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
}

func appendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0:
		return appendUint(b, uint64(v))
	case v >= -32:
		return append(b, byte(v)) // negative fixint
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}

// Decoding. The decoder reads MessagePack straight from the input slice.
// Every declared length is checked, against the format's limits and
// against the bytes left, before anything is allocated or skipped: each
// element, key or value takes at least one byte, so a count above the bytes
// left is a lie. Byte strings are sliced from the input and copied once.
