package main

import (
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

var bboltBucket = []byte("bench")

// bboltKV is bbolt with its default options, all keys in one bucket.
type bboltKV struct{ db *bolt.DB }

var _ kv = (*bboltKV)(nil)

func openBbolt(e *env, dir string) (kv, error) {
	db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o600, nil)
	if err != nil {
		return nil, err
	}
	e.note("bbolt: default options: page size %d (the OS page size), NoSync %t, NoGrowSync %t, NoFreelistSync %t, freelist %s, fill percent %.2f",
		db.Info().PageSize, db.NoSync, db.NoGrowSync, db.NoFreelistSync, db.FreelistType, bolt.DefaultFillPercent)
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket(bboltBucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &bboltKV{db: db}, nil
}

func (b *bboltKV) insert(w *workload) error {
	return w.batches(func(lo, hi int) error {
		return b.db.Update(func(tx *bolt.Tx) error {
			bk := tx.Bucket(bboltBucket)
			for i := lo; i < hi; i++ {
				if err := bk.Put(w.keys[i], w.value(i)); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

func (b *bboltKV) get(w *workload) error {
	return w.batches(func(lo, hi int) error {
		return b.db.View(func(tx *bolt.Tx) error {
			bk := tx.Bucket(bboltBucket)
			for _, i := range w.order[lo:hi] {
				v := bk.Get(w.keys[i])
				if err := w.check(i, v, v != nil); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

func (b *bboltKV) scan() (items, sum int, err error) {
	err = b.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bboltBucket).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			items++
			sum += touch(k, v)
		}
		return nil
	})
	return items, sum, err
}

func (b *bboltKV) close() error { return b.db.Close() }
