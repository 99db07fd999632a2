package sop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/sopd/sop/btree"
	"github.com/sopd/sop/journal"
	"github.com/sopd/sop/projector"
)

// Item is one stored item. Version is the seq of the transaction that last
// wrote it. The slices are the caller's.
type Item struct {
	Key     []byte
	Value   []byte
	Version uint64
}

// Range bounds a scan: keys in [Start, End), nil bounds open, in
// descending order when Reverse.
type Range struct {
	Start   []byte
	End     []byte
	Reverse bool
}

// Prefix returns the range of keys that start with p.
func Prefix(p []byte) Range {
	return Range{Start: p, End: prefixEnd(p)}
}

// prefixEnd is the smallest key above every key starting with p, or nil
// when there is none (p is empty or all 0xff).
func prefixEnd(p []byte) []byte {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] < 0xff {
			end := bytes.Clone(p[:i+1])
			end[i]++
			return end
		}
	}
	return nil
}

// Tx is an interactive transaction on one domain. It reads the domain as of
// its read version (the seq applied when it began), sees its own writes,
// and buffers writes until Update commits them. A Tx is not safe for
// concurrent use, and is done when its function returns.
type Tx struct {
	d        *domain
	r        *btree.Reader
	v        view
	writable bool
	done     bool
	writes   map[string]*storeWrites
	reads    readSet
}

// storeWrites are a transaction's buffered writes to one store.
type storeWrites struct {
	m      map[string]pendingWrite
	sorted []string // keys of m in order; nil when stale
}

type pendingWrite struct {
	value []byte
	del   bool
}

func (w *storeWrites) keys() []string {
	if w.sorted == nil {
		w.sorted = make([]string, 0, len(w.m))
		for k := range w.m {
			w.sorted = append(w.sorted, k)
		}
		slices.Sort(w.sorted)
	}
	return w.sorted
}

// View runs fn in a read-only transaction on domain.
func (db *DB) View(ctx context.Context, domain string, fn func(*Tx) error) error {
	d, err := db.domain(domain)
	if err != nil {
		return err
	}
	tx, err := d.begin(false)
	if err != nil {
		return err
	}
	defer tx.end()
	return fn(tx)
}

// Update runs fn in a read-write transaction on domain and commits its
// writes, returning the commit's seq (0 when fn wrote nothing). The
// transaction is serializable: if anything it read was written after its
// read version, the commit fails with ErrConflict, and Update runs fn again
// (up to Options.MaxRetries times, with jittered backoff), so fn must be
// safe to repeat. An error from fn aborts the transaction and is returned
// as is.
func (db *DB) Update(ctx context.Context, domain string, fn func(*Tx) error) (uint64, error) {
	d, err := db.domain(domain)
	if err != nil {
		return 0, err
	}
	for attempt := 0; ; attempt++ {
		seq, err := d.update(ctx, fn)
		if !errors.Is(err, ErrConflict) || attempt >= db.opts.MaxRetries {
			return seq, err
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return 0, err
		}
	}
}

// backoff is the jittered wait before retry attempt+1: uniform in
// [0, min(100ms, 1ms<<attempt)].
func backoff(attempt int) time.Duration {
	limit := min(100*time.Millisecond, time.Millisecond<<min(attempt, 10))
	return rand.N(limit + 1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *domain) update(ctx context.Context, fn func(*Tx) error) (uint64, error) {
	tx, err := d.begin(true)
	if err != nil {
		return 0, err
	}
	err = fn(tx)
	tx.end()
	if err != nil {
		return 0, err
	}
	ops := tx.ops()
	if len(ops) == 0 {
		return 0, nil
	}
	res := d.submit(ctx, &commitReq{txID: newTxID(), readVersion: tx.v.seq, reads: &tx.reads, ops: ops})
	return res.seq, res.err
}

func (d *domain) begin(writable bool) (*Tx, error) {
	if err := d.failure(); err != nil {
		return nil, err
	}
	r, v, err := d.snapshot()
	if err != nil {
		return nil, err
	}
	return &Tx{d: d, r: r, v: v, writable: writable}, nil
}

func (tx *Tx) end() {
	tx.done = true
	tx.r.Release()
}

// ReadVersion is the seq the transaction reads at.
func (tx *Tx) ReadVersion() uint64 { return tx.v.seq }

// ops lists the buffered writes in store and key order.
func (tx *Tx) ops() []journal.Op {
	stores := make([]string, 0, len(tx.writes))
	for s := range tx.writes {
		stores = append(stores, s)
	}
	slices.Sort(stores)
	var ops []journal.Op
	for _, s := range stores {
		w := tx.writes[s]
		for _, k := range w.keys() {
			p := w.m[k]
			op := journal.Op{Kind: journal.OpPut, Store: s, Key: []byte(k), Value: p.value}
			if p.del {
				op = journal.Op{Kind: journal.OpDelete, Store: s, Key: []byte(k)}
			}
			ops = append(ops, op)
		}
	}
	return ops
}

// store looks up a store at the read version, recording the lookup as a
// read.
func (tx *Tx) store(name string) (projector.StoreInfo, error) {
	s, err := tx.lookup(name)
	if err == nil || errors.Is(err, ErrStoreNotFound) {
		tx.reads.addStore(name)
	}
	return s, err
}

// lookup looks up a store at the read version.
func (tx *Tx) lookup(name string) (projector.StoreInfo, error) {
	if tx.done {
		return projector.StoreInfo{}, ErrTxDone
	}
	if err := journal.CheckStoreName(name); err != nil {
		return projector.StoreInfo{}, fmt.Errorf("%w: %w", ErrBadName, err)
	}
	s, ok := tx.v.cat.Store(name)
	if !ok {
		return s, fmt.Errorf("%w: %q in domain %s", ErrStoreNotFound, name, tx.d.name)
	}
	return s, nil
}

func checkKey(key []byte) error {
	switch {
	case len(key) == 0:
		return fmt.Errorf("%w: key is empty", ErrBadKey)
	case len(key) > MaxKeySize:
		return fmt.Errorf("%w: key of %d bytes, the limit is %d", ErrBadKey, len(key), MaxKeySize)
	}
	return nil
}

// Get returns the item at key in store, as of the read version or as this
// transaction wrote it, and whether it exists.
func (tx *Tx) Get(store string, key []byte) (Item, bool, error) {
	s, err := tx.store(store)
	if err != nil {
		return Item{}, false, err
	}
	if err := checkKey(key); err != nil {
		return Item{}, false, err
	}
	if w, ok := tx.writes[store]; ok {
		if p, ok := w.m[string(key)]; ok {
			if p.del {
				return Item{}, false, nil
			}
			return Item{Key: bytes.Clone(key), Value: bytes.Clone(p.value)}, true, nil
		}
	}
	tx.reads.addPoint(store, key)
	b, ok, err := tx.r.Get(s.Tree, key)
	if err != nil || !ok {
		return Item{}, false, err
	}
	return decodeItem(key, b)
}

func decodeItem(key, b []byte) (Item, bool, error) {
	v, val, err := projector.DecodeItem(b)
	if err != nil {
		return Item{}, false, fmt.Errorf("key %q: %w", key, err)
	}
	return Item{Key: bytes.Clone(key), Value: bytes.Clone(val), Version: v}, true, nil
}

// Put sets key in store to value. The write is buffered until commit; the
// transaction's own reads see it at once, with Version 0.
func (tx *Tx) Put(store string, key, value []byte) error {
	return tx.write(store, key, pendingWrite{value: bytes.Clone(value)})
}

// Delete removes key from store (deleting an absent key is not an error).
func (tx *Tx) Delete(store string, key []byte) error {
	return tx.write(store, key, pendingWrite{del: true})
}

// PutDoc puts JSON document doc into store, which must have an index
// specification, under the compound key the specification builds from the
// document's fields (see package index), and returns that key.
func (tx *Tx) PutDoc(store string, doc []byte) ([]byte, error) {
	s, err := tx.store(store)
	if err != nil {
		return nil, err
	}
	if len(s.Index) == 0 {
		return nil, fmt.Errorf("%w: store %q has no index specification: use Put with a key", ErrBadIndex, store)
	}
	key, err := s.Index.Key(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: store %q: %w", ErrBadIndex, store, err)
	}
	return key, tx.Put(store, key, doc)
}

func (tx *Tx) write(store string, key []byte, p pendingWrite) error {
	if tx.done {
		return ErrTxDone
	}
	if !tx.writable {
		return ErrReadOnly
	}
	// A write does not read: it needs the store only to check the key, and
	// a store dropped before the commit makes the projector reject it.
	s, err := tx.lookup(store)
	if err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if len(s.Index) > 0 && !p.del {
		if _, err := s.Index.Decode(key); err != nil {
			return fmt.Errorf("%w: store %q: %w", ErrBadIndex, store, err)
		}
	}
	if len(p.value) > journal.MaxValueSize {
		return fmt.Errorf("%w: value of %d bytes, the limit is %d", ErrTooLarge, len(p.value), journal.MaxValueSize)
	}
	if tx.writes == nil {
		tx.writes = map[string]*storeWrites{}
	}
	w := tx.writes[store]
	if w == nil {
		w = &storeWrites{m: map[string]pendingWrite{}}
		tx.writes[store] = w
	}
	if _, ok := w.m[string(key)]; !ok {
		w.sorted = nil
	}
	w.m[string(key)] = p
	return nil
}

// Scan iterates over the items of store within r, merging this
// transaction's own writes. Stopping early records only the part of the
// range actually read, so a later write beyond it does not conflict.
func (tx *Tx) Scan(store string, r Range) iter.Seq2[Item, error] {
	return func(yield func(Item, error) bool) {
		s, err := tx.store(store)
		if err != nil {
			yield(Item{}, err)
			return
		}
		sc := scan{tx: tx, store: store, rng: r}
		if err := sc.run(s.Tree, yield); err != nil {
			yield(Item{}, err)
		}
	}
}
