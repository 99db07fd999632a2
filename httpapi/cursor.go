package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// A scan cursor is opaque to clients: unpadded base64url of
//
//	byte 0      version, 1
//	byte 1      flags: bit 0 set for a reverse scan; other bits 0
//	bytes 2-9   check: the first 8 bytes of SHA-256 over the version, the
//	            flags, the scan's scope (domain, store, prefix, start and
//	            end as given, each as a uvarint length and its bytes) and
//	            the key
//	bytes 10-   the last key the page returned (stored bytes)
//
// The check ties a cursor to the scan that issued it: one garbled, or
// reused with another store, bounds or direction, is refused (400
// bad_cursor). It is not a secret: a forged cursor can only name a
// position in a range the client may read anyway.

const (
	cursorVersion = 1
	cursorReverse = 1 << 0
	cursorHeader  = 2 + 8
)

// errCursorGarbled: a cursor that is not one this package wrote.
var errCursorGarbled = errors.New("garbled")

// scanScope is what a cursor is valid for.
type scanScope struct {
	domain, store, prefix, start, end string
}

// cursor is a position in a scan.
type cursor struct {
	reverse bool
	last    []byte
}

// encode returns the cursor's text for scope.
func (c cursor) encode(scope scanScope) string {
	b := make([]byte, cursorHeader, cursorHeader+len(c.last))
	b[0] = cursorVersion
	if c.reverse {
		b[1] = cursorReverse
	}
	sum := cursorCheck(b[0], b[1], scope, c.last)
	copy(b[2:], sum[:8])
	b = append(b, c.last...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor parses text written by encode for the same scope.
func decodeCursor(text string, scope scanScope) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil || len(b) <= cursorHeader || b[0] != cursorVersion || b[1]&^cursorReverse != 0 {
		return cursor{}, errCursorGarbled
	}
	c := cursor{reverse: b[1]&cursorReverse != 0, last: b[cursorHeader:]}
	sum := cursorCheck(b[0], b[1], scope, c.last)
	if string(sum[:8]) != string(b[2:cursorHeader]) {
		return cursor{}, errCursorGarbled
	}
	return c, nil
}

// cursorCheck hashes what a cursor's check covers.
func cursorCheck(version, flags byte, scope scanScope, last []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte{version, flags})
	for _, s := range []string{scope.domain, scope.store, scope.prefix, scope.start, scope.end} {
		h.Write(binary.AppendUvarint(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	h.Write(last)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}
