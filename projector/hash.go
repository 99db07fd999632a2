package projector

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"

	"github.com/sopd/sop/btree"
)

// hashVersion is the first thing hashed, so a change of the layout below
// can never make two different states agree.
const hashVersion = 1

// TreeReader is the part of a pinned B-tree version Hash reads
// (*btree.Reader implements it).
type TreeReader interface {
	Tree(id btree.TreeID) (btree.TreeRoot, bool)
	Cursor(tree btree.TreeID, bounds btree.Bounds) (*btree.Cursor, error)
}

var _ TreeReader = (*btree.Reader)(nil)

// Hash returns the SHA-256 state hash of the stores cat lists, as r holds
// them. The digest input is
//
//	uvarint hashVersion
//	uvarint number of stores, then per store in name order:
//	  str name
//	  uvarint number of index fields, then per field: str name, byte desc (0/1)
//	  uvarint item count
//	  per item in key order: str key, uvarint version, str value
//
// where str is a uvarint length followed by the bytes.
func Hash(r TreeReader, cat *Catalog) ([]byte, error) {
	return HashVisit(r, cat, nil)
}

// HashVisit is Hash that also shows every item to visit (when not nil) in
// the order it hashes them: the stores of cat.Stores() in turn (store is
// the index), each in key order; item is the stored item (see AppendItem),
// valid only during the call. An error from visit stops the walk and is
// returned.
func HashVisit(r TreeReader, cat *Catalog, visit func(store int, key, item []byte) error) ([]byte, error) {
	h := hasher{h: sha256.New()}
	h.uvarint(hashVersion)
	stores := cat.Stores()
	h.uvarint(uint64(len(stores)))
	for i, s := range stores {
		h.visit = nil
		if visit != nil {
			h.visit = func(key, item []byte) error { return visit(i, key, item) }
		}
		if err := h.store(r, s); err != nil {
			return nil, fmt.Errorf("hash store %q: %w", s.Name, err)
		}
	}
	return h.h.Sum(nil), nil
}

type hasher struct {
	h     hash.Hash
	buf   [binary.MaxVarintLen64]byte
	visit func(key, item []byte) error
}

func (h *hasher) uvarint(v uint64) {
	n := binary.PutUvarint(h.buf[:], v)
	h.h.Write(h.buf[:n])
}

func (h *hasher) str(b []byte) {
	h.uvarint(uint64(len(b)))
	h.h.Write(b)
}

func (h *hasher) store(r TreeReader, s StoreInfo) error {
	h.str([]byte(s.Name))
	h.uvarint(uint64(len(s.Index)))
	for _, f := range s.Index {
		h.str([]byte(f.Name))
		if f.Desc {
			h.h.Write([]byte{1})
		} else {
			h.h.Write([]byte{0})
		}
	}
	t, ok := r.Tree(s.Tree)
	if !ok {
		return fmt.Errorf("tree %d is missing: %w", s.Tree, btree.ErrTreeNotFound)
	}
	h.uvarint(t.Count)
	c, err := r.Cursor(s.Tree, btree.Bounds{})
	if err != nil {
		return err
	}
	for ok := c.First(); ok; ok = c.Next() {
		b, err := c.Value()
		if err != nil {
			return err
		}
		v, val, err := DecodeItem(b)
		if err != nil {
			return fmt.Errorf("key %q: %w", c.Key(), err)
		}
		h.str(c.Key())
		h.uvarint(v)
		h.str(val)
		if h.visit != nil {
			if err := h.visit(c.Key(), b); err != nil {
				return err
			}
		}
	}
	return c.Err()
}
