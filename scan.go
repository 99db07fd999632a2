package sop

import (
	"bytes"
	"slices"
	"strings"

	"github.com/sopd/sop/btree"
)

// scan merges a tree cursor with a transaction's buffered writes, in one
// direction, and records the range it read.
type scan struct {
	tx    *Tx
	store string
	rng   Range
	last  []byte // key of the last item yielded
	done  bool   // the range was read to its end
}

func (s *scan) run(tree btree.TreeID, yield func(Item, error) bool) error {
	defer s.record()
	c, err := s.tx.r.Cursor(tree, btree.Bounds{Start: s.rng.Start, End: s.rng.End})
	if err != nil {
		return err
	}
	pend := s.pending()
	var ok bool
	if s.rng.Reverse {
		ok = c.Last()
	} else {
		ok = c.First()
	}
	for {
		if !ok {
			if err := c.Err(); err != nil {
				return err
			}
		}
		usePend := len(pend) > 0 && (!ok || s.notAfter(pend[0], c.Key()))
		if !ok && !usePend {
			s.done = true
			return nil
		}
		var it Item
		if usePend {
			k := pend[0]
			pend = pend[1:]
			if ok && string(c.Key()) == k {
				ok = s.step(c) // the buffered write replaces the stored item
			}
			p := s.tx.writes[s.store].m[k]
			if p.del {
				continue
			}
			it = Item{Key: []byte(k), Value: bytes.Clone(p.value)}
		} else {
			v, err := c.Value()
			if err != nil {
				return err
			}
			if it, _, err = decodeItem(c.Key(), v); err != nil {
				return err
			}
			ok = s.step(c)
		}
		s.last = it.Key
		if !yield(it, nil) {
			return nil
		}
	}
}

// notAfter reports whether buffered key k comes no later than the tree's
// key in scan order.
func (s *scan) notAfter(k string, key []byte) bool {
	cmp := strings.Compare(k, string(key))
	if s.rng.Reverse {
		return cmp >= 0
	}
	return cmp <= 0
}

func (s *scan) step(c *btree.Cursor) bool {
	if s.rng.Reverse {
		return c.Prev()
	}
	return c.Next()
}

// pending lists the buffered keys of the store within the range, in scan
// order.
func (s *scan) pending() []string {
	w, ok := s.tx.writes[s.store]
	if !ok {
		return nil
	}
	keys := w.keys()
	lo, hi := 0, len(keys)
	if s.rng.Start != nil {
		lo, _ = slices.BinarySearch(keys, string(s.rng.Start))
	}
	if s.rng.End != nil {
		hi, _ = slices.BinarySearch(keys, string(s.rng.End))
	}
	if lo >= hi {
		return nil
	}
	out := slices.Clone(keys[lo:hi])
	if s.rng.Reverse {
		slices.Reverse(out)
	}
	return out
}

// record adds what the scan read to the transaction's read set: the whole
// range when it ran to the end, else up to and including the last key.
func (s *scan) record() {
	start, end := s.rng.Start, s.rng.End
	switch {
	case s.done:
	case s.last == nil:
		return // stopped before reading anything
	case s.rng.Reverse:
		start = s.last
	default:
		end = append(bytes.Clone(s.last), 0)
	}
	s.tx.reads.addRange(s.store, start, end)
}
