package projector

import (
	"encoding/binary"
	"errors"
)

// ErrBadItem marks a stored item value that is not a valid item encoding:
// the B-tree holds something the projector did not write.
var ErrBadItem = errors.New("projector: bad item encoding")

// AppendItem appends the item encoding of (version, value) to dst.
func AppendItem(dst []byte, version uint64, value []byte) []byte {
	dst = binary.AppendUvarint(dst, version)
	return append(dst, value...)
}

// DecodeItem splits a stored item into its version and value. value aliases
// b.
func DecodeItem(b []byte) (version uint64, value []byte, err error) {
	v, n := binary.Uvarint(b)
	if n <= 0 || v == 0 {
		return 0, nil, ErrBadItem
	}
	return v, b[n:], nil
}
