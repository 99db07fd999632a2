package main

// Suite btree: sop's on-disk B-tree (package btree) against bbolt, on the same data
// with the same durability.
//
// Data: -keys (1,000,000) keys of 16 bytes from math/rand/v2's PCG with a fixed seed,
// each with a 100-byte value; both engines get the same keys in the same order.
//
// Cases, timed after a runtime.GC:
//
//	insert  random inserts into an empty file, -batch (1,000) writes per commit, each
//	        commit durable before the next batch begins (writes/s)
//	get     a get of every key in a random order (fixed seed) on one goroutine, in read
//	        transactions of -batch gets, each value compared with the one written (gets/s)
//	scan    one forward scan over every key, reading key and value bytes; best of 3 (keys/s)
//
// Durability: every batch is fsynced before the next begins, and each engine pays two
// syncs per batch. bbolt, with its default options, writes the batch's pages,
// fdatasyncs, writes its meta page and fdatasyncs again (and fsyncs after growing the
// file, as NoGrowSync is false). sop commits the batch, then Forest.Flush writes the
// dirty pages and fdatasyncs the page file, and saves the checkpoint record into one
// of two slot files, used in turn, and fdatasyncs that (see checkpointSlots).
//
// Page size: the cases insert, get and scan run sop at bbolt's page size (4 KiB, the
// OS page size), so both engines write pages of the same size; the cases insert-8k,
// get-8k and scan-8k run sop again at its default, 8 KiB, against the same bbolt
// figures. -pagesize N runs sop once, at N, for the three plain cases.
//
// Caches: bbolt reads through mmap, so its whole file stays in the OS page cache; sop
// gets a 1 GiB page cache, enough to hold the whole tree.
//
// The engines run one after the other in one process, each in its own directory,
// which is removed before the next starts.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

const (
	keySize   = 16
	valueSize = 100
	seed      = 1 // the data and the get order are the same on every run
)

// kv is one engine under test.
type kv interface {
	// insert writes every key of w with its value, w.batch writes per durable commit.
	insert(w *workload) error
	// get reads every key of w in w.order, w.batch gets per read transaction, and checks
	// each value with w.check.
	get(w *workload) error
	// scan reads every item in key order and returns how many it saw and a sum over
	// their bytes.
	scan() (items, sum int, err error)
	close() error
}

// workload is the data both engines load and read.
type workload struct {
	keys  [][]byte // in insert order
	order []int    // get order: a permutation of the indexes of keys
	pool  []byte   // values are valueSize windows of it
	batch int
}

func newWorkload(n, batch int) *workload {
	rng := rand.New(rand.NewPCG(seed, seed))
	w := &workload{keys: make([][]byte, n), pool: make([]byte, 64<<10), batch: batch}
	buf := make([]byte, n*keySize)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	for i := range w.keys {
		w.keys[i] = buf[i*keySize : (i+1)*keySize : (i+1)*keySize]
	}
	for i := range w.pool {
		w.pool[i] = byte(rng.Uint32())
	}
	w.order = rng.Perm(n)
	return w
}

// value is key i's value. It is a window of a shared pool, so that building values
// costs nothing inside the timed loops; bbolt keeps the slices until its commit.
func (w *workload) value(i int) []byte {
	off := i * 7919 % (len(w.pool) - valueSize)
	return w.pool[off : off+valueSize : off+valueSize]
}

// check reports whether v is key i's value.
func (w *workload) check(i int, v []byte, ok bool) error {
	if !ok {
		return fmt.Errorf("key %d (%x) not found", i, w.keys[i])
	}
	if !bytes.Equal(v, w.value(i)) {
		return fmt.Errorf("key %d (%x): wrong value of %d bytes", i, w.keys[i], len(v))
	}
	return nil
}

// batches calls fn with the bounds of each run of w.batch consecutive indexes.
func (w *workload) batches(fn func(lo, hi int) error) error {
	for lo := 0; lo < len(w.keys); lo += w.batch {
		if err := fn(lo, min(lo+w.batch, len(w.keys))); err != nil {
			return err
		}
	}
	return nil
}

// touch sums the lengths and one byte of the key and the value, so a scan reads the
// memory of every item.
func touch(k, v []byte) int {
	if len(k) == 0 || len(v) == 0 {
		return len(k) + len(v)
	}
	return len(k) + len(v) + int(k[0]) + int(v[len(v)-1])
}

func runBtree(e *env) ([]result, error) {
	w := newWorkload(e.cfg.keys, e.cfg.batch)
	e.note("data: %d random %d-byte keys (seed %d), %d-byte values, %d writes per durable commit, %d gets per read transaction",
		len(w.keys), keySize, seed, valueSize, w.batch, w.batch)
	e.note("durability: every batch fsynced before the next; sop: page file fdatasync + checkpoint record fdatasync; bbolt: its default two fdatasyncs per commit")
	var peer rates
	var err error
	if e.runPeer() {
		if peer, err = runKV(e, "bbolt", w, openBbolt); err != nil {
			return nil, err
		}
	}
	configs := []struct {
		suffix   string
		pageSize int
	}{{"", equalPageSize}, {"-8k", 8192}}
	if e.cfg.pageSize != 0 {
		configs = configs[:1]
		configs[0].pageSize = e.cfg.pageSize
	}
	var out []result
	for _, c := range configs {
		var sop rates
		if e.runSop() {
			open := func(e *env, dir string) (kv, error) { return openSop(e, dir, c.pageSize) }
			if sop, err = runKV(e, "sop"+c.suffix, w, open); err != nil {
				return nil, err
			}
		}
		if e.runPeer() && e.runSop() && sop.sum != peer.sum {
			return nil, fmt.Errorf("scans disagree: sop%s sums %d, bbolt %d", c.suffix, sop.sum, peer.sum)
		}
		out = append(out,
			newResult(e, "insert"+c.suffix, "writes/s", sop.insert, peer.insert),
			newResult(e, "get"+c.suffix, "gets/s", sop.get, peer.get),
			newResult(e, "scan"+c.suffix, "keys/s", sop.scan, peer.scan))
	}
	return out, nil
}

// equalPageSize is bbolt's page size on this platform (the OS page size): the size
// sop runs at for the plain cases.
var equalPageSize = os.Getpagesize()

// rates holds one engine's throughput in each case, and the sum its scans computed.
type rates struct {
	insert, get, scan float64
	sum               int
}

// runKV opens one engine in a fresh directory, measures every case on it, closes it
// and removes the directory.
func runKV(e *env, side string, w *workload, open func(e *env, dir string) (kv, error)) (r rates, err error) {
	dir := filepath.Join(e.dir, e.suite.name, side)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	db, err := open(e, dir)
	if err != nil {
		return r, fmt.Errorf("open %s: %w", side, err)
	}
	defer func() {
		if cerr := db.close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", side, cerr)
		}
	}()
	n := len(w.keys)
	if r.insert, err = e.measure(side, "insert", n, 1, func() error { return db.insert(w) }); err != nil {
		return r, err
	}
	if r.get, err = e.measure(side, "get", n, 1, func() error { return db.get(w) }); err != nil {
		return r, err
	}
	r.scan, err = e.measure(side, "scan", n, 3, func() error {
		items, sum, err := db.scan()
		if err == nil && items != n {
			err = fmt.Errorf("scan saw %d items, want %d", items, n)
		}
		r.sum = sum
		return err
	})
	return r, err
}
