package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/sopd/sop/btree"
)

const (
	sopTree      btree.TreeID = 1
	sopCacheSize              = 1 << 30 // holds the whole 1M-key tree, as the OS page cache holds bbolt's file
)

// sopKV is sop's forest with one tree, its checkpoint kept in checkpointSlots.
type sopKV struct {
	f     *btree.Forest
	path  string // the page file
	slots *checkpointSlots
	items uint64 // keys inserted, checked against the durable checkpoint at close
}

var _ kv = (*sopKV)(nil)

func openSop(e *env, dir string, pageSize int) (kv, error) {
	path := filepath.Join(dir, "pages")
	f, err := btree.Open(path, btree.Checkpoint{}, btree.Options{CacheSize: sopCacheSize, PageSize: pageSize})
	if err != nil {
		return nil, err
	}
	e.note("sop: page size %d (default %d), cache %d MiB, spill size default (cache/2)", f.PageSize(), btree.DefaultPageSize, sopCacheSize>>20)
	slots, err := openSlots(dir)
	if err != nil {
		f.Close()
		return nil, err
	}
	s := &sopKV{f: f, path: path, slots: slots}
	if err := s.write(func(b *btree.Batch) error { return b.CreateTree(sopTree) }); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// write runs fn in one batch, commits it and makes it durable.
func (s *sopKV) write(fn func(b *btree.Batch) error) error {
	b, err := s.f.Begin()
	if err != nil {
		return err
	}
	if err := fn(b); err != nil {
		b.Abort()
		return err
	}
	if err := b.Commit(); err != nil {
		return err
	}
	_, err = s.f.Flush(s.slots.save)
	return err
}

func (s *sopKV) insert(w *workload) error {
	return w.batches(func(lo, hi int) error {
		err := s.write(func(b *btree.Batch) error {
			for i := lo; i < hi; i++ {
				if err := b.Put(sopTree, w.keys[i], w.value(i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			s.items += uint64(hi - lo)
		}
		return err
	})
}

func (s *sopKV) get(w *workload) error {
	return w.batches(func(lo, hi int) error {
		r, err := s.f.NewReader()
		if err != nil {
			return err
		}
		defer r.Release()
		for _, i := range w.order[lo:hi] {
			v, ok, err := r.Get(sopTree, w.keys[i])
			if err != nil {
				return err
			}
			if err := w.check(i, v, ok); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *sopKV) scan() (items, sum int, err error) {
	r, err := s.f.NewReader()
	if err != nil {
		return 0, 0, err
	}
	defer r.Release()
	c, err := r.Cursor(sopTree, btree.Bounds{})
	if err != nil {
		return 0, 0, err
	}
	for ok := c.First(); ok; ok = c.Next() {
		v, err := c.Value()
		if err != nil {
			return items, sum, err
		}
		items++
		sum += touch(c.Key(), v)
	}
	return items, sum, c.Err()
}

// close closes the forest, then checks that the checkpoint the slots hold opens the
// page file with every key inserted: the durability paid for was real.
func (s *sopKV) close() error {
	err := s.f.Close()
	if err == nil {
		err = s.verify()
	}
	return errors.Join(err, s.slots.close())
}

func (s *sopKV) verify() error {
	cp, err := s.slots.load()
	if err != nil {
		return err
	}
	f, err := btree.Open(s.path, cp, btree.Options{})
	if err != nil {
		return fmt.Errorf("reopen from checkpoint: %w", err)
	}
	defer f.Close()
	r, err := f.NewReader()
	if err != nil {
		return err
	}
	defer r.Release()
	if t, ok := r.Tree(sopTree); !ok || t.Count != s.items {
		return fmt.Errorf("reopened tree holds %d keys (found %t), want %d", t.Count, ok, s.items)
	}
	return nil
}
