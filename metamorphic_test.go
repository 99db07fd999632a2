package sop_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sopd/sop"
	"github.com/sopd/sop/index"
	"github.com/sopd/sop/internal/testseed"
)

// TestMetamorphicReplay runs random workloads (puts, overwrites, deletes,
// multi-op transactions, store create and drop, compare-and-set Txns with
// both outcomes, scans, bursts of concurrent writers) against a model of
// the state, then rebuilds the state twice from the journal and requires
// the same applied seq and state hash as the live projection:
//
//   - replay of the whole journal, with the checkpoints and page files
//     removed;
//   - restore of an early checkpoint (with its page file), taken by copying
//     them aside while the DB was closed, then replay of the rest, with
//     checkpoints held off so the state compared is the replayed one.
//
// The model is exact: the sequential part is applied as it commits, and
// the concurrent writers each own their keys but a shared counter, so their
// writes merge by seq.
func TestMetamorphicReplay(t *testing.T) {
	seed := testseed.Seed(t)
	stats := map[string]int{}
	for i := range metaIterations {
		t.Run(fmt.Sprintf("workload%d", i), func(t *testing.T) {
			m := &metaRun{t: t, ctx: context.Background(), rng: rand.New(rand.NewPCG(seed, uint64(i))), dir: t.TempDir(), model: metaModel{}, stats: stats}
			m.run()
		})
	}
	t.Logf("%v", stats)
	// Without these the workloads no longer test what they claim to.
	for _, what := range []string{"txn held", "txn failed", "txn duplicate", "store created", "store dropped", "conflict retried"} {
		if stats[what] == 0 && !t.Failed() {
			t.Errorf("no %q in %d workloads", what, metaIterations)
		}
	}
}

const (
	metaIterations = 4
	metaPhases     = 4
	metaKeys       = 40
	metaWorkers    = 4
	metaConc       = "conc" // the concurrent writers' store, never dropped
	metaDocs       = "docs" // a store with an index specification
)

var (
	metaStores  = []string{"a", "b", "c", "d"}
	metaSpec    = index.Spec{{Name: "n"}, {Name: "tag", Desc: true}}
	errMetaUndo = errors.New("metamorphic: the transaction function gave up")
)

// metaModel is the expected state of the default domain: store name ->
// store.
type metaModel map[string]*metaStore

type metaStore struct {
	spec  index.Spec
	items map[string]metaItem
}

type metaItem struct {
	value   []byte
	version uint64
}

// metaWrites are a transaction's buffered writes: store -> key -> write.
type metaWrites map[string]map[string]metaWrite

type metaWrite struct {
	value []byte
	del   bool
}

func (w metaWrites) set(store, key string, mw metaWrite) {
	if w[store] == nil {
		w[store] = map[string]metaWrite{}
	}
	w[store][key] = mw
}

// apply applies writes committed at seq.
func (m metaModel) apply(w metaWrites, seq uint64) {
	for store, kw := range w {
		for key, mw := range kw {
			if mw.del {
				delete(m[store].items, key)
			} else {
				m[store].items[key] = metaItem{value: mw.value, version: seq}
			}
		}
	}
}

// get is what a transaction with buffered writes w reads at key.
func (m metaModel) get(w metaWrites, store, key string) (sop.Item, bool) {
	if mw, ok := w[store][key]; ok {
		return sop.Item{Key: []byte(key), Value: mw.value}, !mw.del
	}
	s := m[store]
	if s == nil {
		return sop.Item{}, false
	}
	it, ok := s.items[key]
	return sop.Item{Key: []byte(key), Value: it.value, Version: it.version}, ok
}

// scan is what a transaction with buffered writes w reads in r.
func (m metaModel) scan(w metaWrites, store string, r sop.Range) []sop.Item {
	keys := slices.Collect(maps.Keys(m[store].items))
	keys = slices.AppendSeq(keys, maps.Keys(w[store]))
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var out []sop.Item
	for _, k := range keys {
		if r.Start != nil && k < string(r.Start) || r.End != nil && k >= string(r.End) {
			continue
		}
		if it, ok := m.get(w, store, k); ok {
			out = append(out, it)
		}
	}
	if r.Reverse {
		slices.Reverse(out)
	}
	return out
}

func sameItems(got, want []sop.Item) error {
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			return fmt.Errorf("item %d: missing, want %s", i, describeItem(want[i]))
		case i >= len(want):
			return fmt.Errorf("item %d: %s, want nothing", i, describeItem(got[i]))
		case !bytes.Equal(got[i].Key, want[i].Key) || !bytes.Equal(got[i].Value, want[i].Value) || got[i].Version != want[i].Version:
			return fmt.Errorf("item %d: %s, want %s", i, describeItem(got[i]), describeItem(want[i]))
		}
	}
	return nil
}

func describeItem(it sop.Item) string {
	k := string(it.Key)
	if len(k) > 12 {
		k = fmt.Sprintf("%.12s...(%d bytes)", k, len(k))
	}
	return fmt.Sprintf("%q = %d bytes %x @%d", k, len(it.Value), it.Value[:min(8, len(it.Value))], it.Version)
}

// metaRun is one workload.
type metaRun struct {
	t     *testing.T
	ctx   context.Context
	rng   *rand.Rand
	dir   string
	db    *sop.DB
	model metaModel
	last  uint64 // seq of the last sequential commit
	txIDs int
	stats map[string]int // how often each interesting case ran
}

func (m *metaRun) run() {
	t := m.t
	live := sop.Options{
		Dir:                m.dir,
		CheckpointEntries:  []int{7, 60, 10000}[m.rng.IntN(3)],
		CheckpointInterval: []time.Duration{5 * time.Millisecond, 50 * time.Millisecond, time.Hour}[m.rng.IntN(3)],
		MaxRetries:         1000,
	}
	t.Logf("live checkpoints every %d entries or %v", live.CheckpointEntries, live.CheckpointInterval)
	m.open(live)
	m.createStore(metaConc, nil)
	m.createStore(metaDocs, metaSpec)
	snap, snapAt := filepath.Join(t.TempDir(), "snap"), m.rng.IntN(2)
	var snapApplied uint64
	for phase := range metaPhases {
		for range 50 + m.rng.IntN(40) {
			m.step()
		}
		m.concurrent()
		m.verify(fmt.Sprintf("after phase %d", phase))
		if phase == snapAt {
			m.close()
			m.copyState(m.dir, snap)
			m.open(live)
			m.verify("after reopen")
			snapApplied = m.applied()
		}
	}
	seq, sum := m.hash()
	applied := m.applied()
	m.close()

	m.removeState()
	m.open(sop.Options{Dir: m.dir})
	m.compare("replay of the whole journal", seq, sum, applied)
	m.close()

	// A cache of a few pages fills the replay's batch (btree.Batch.Full)
	// many times over, so the replay at open commits it and starts another
	// between chunks and within one.
	m.removeState()
	m.open(sop.Options{Dir: m.dir, PageSize: 4096, CacheSize: 8 * 4096})
	m.compare("replay of the whole journal through a cache of 8 pages", seq, sum, applied)
	m.close()

	m.removeState()
	m.copyState(snap, m.dir)
	m.open(sop.Options{Dir: m.dir, CheckpointEntries: 1 << 30, CheckpointInterval: time.Hour})
	m.compare(fmt.Sprintf("restore of the checkpoint at seq %d and replay", snapApplied), seq, sum, applied)
	m.close()
	t.Logf("%d entries; the restore replayed %d of them", applied, applied-snapApplied)
}

func (m *metaRun) open(opts sop.Options) {
	m.t.Helper()
	db, err := sop.Open(m.ctx, opts)
	if err != nil {
		m.t.Fatalf("open: %v", err)
	}
	m.db = db
	m.t.Cleanup(func() { db.Close() })
}

func (m *metaRun) close() {
	m.t.Helper()
	if err := m.db.Check(sop.DefaultDomain); err != nil {
		m.t.Fatal(err)
	}
	if err := m.db.Close(); err != nil {
		m.t.Fatalf("close: %v", err)
	}
}

// removeState removes the checkpoints and page files, keeping the journal.
func (m *metaRun) removeState() {
	for _, sub := range []string{"checkpoint", "domains"} {
		if err := os.RemoveAll(filepath.Join(m.dir, sub)); err != nil {
			m.t.Fatal(err)
		}
	}
}

// copyState copies the checkpoints and page files of data dir from to to.
func (m *metaRun) copyState(from, to string) {
	for _, sub := range []string{"checkpoint", "domains"} {
		if err := os.CopyFS(filepath.Join(to, sub), os.DirFS(filepath.Join(from, sub))); err != nil {
			m.t.Fatalf("copy %s: %v", sub, err)
		}
	}
}

func (m *metaRun) hash() (uint64, []byte) {
	m.t.Helper()
	seq, sum, err := m.db.Hash(sop.DefaultDomain)
	if err != nil {
		m.t.Fatal(err)
	}
	return seq, sum
}

func (m *metaRun) applied() uint64 {
	m.t.Helper()
	seq, err := m.db.Applied(sop.DefaultDomain)
	if err != nil {
		m.t.Fatal(err)
	}
	return seq
}

// compare requires the state rebuilt by how to match the live one.
func (m *metaRun) compare(how string, seq uint64, sum []byte, applied uint64) {
	m.t.Helper()
	gotSeq, gotSum := m.hash()
	if gotSeq != seq || !bytes.Equal(gotSum, sum) {
		m.t.Fatalf("%s: hash %x at seq %d, live %x at seq %d", how, gotSum, gotSeq, sum, seq)
	}
	if got := m.applied(); got != applied {
		m.t.Fatalf("%s: applied seq %d, live %d", how, got, applied)
	}
	m.verify(how)
}

// verify requires the stores and every item to be the model's.
func (m *metaRun) verify(when string) {
	m.t.Helper()
	stores, _, err := m.db.Stores(sop.DefaultDomain)
	if err != nil {
		m.t.Fatal(err)
	}
	var names []string
	for _, s := range stores {
		names = append(names, s.Name)
		ms := m.model[s.Name]
		if ms == nil {
			continue
		}
		if fmt.Sprint(s.Index) != fmt.Sprint(ms.spec) || s.Count != uint64(len(ms.items)) {
			m.t.Fatalf("%s: store %s has index %v and %d items, want %v and %d", when, s.Name, s.Index, s.Count, ms.spec, len(ms.items))
		}
	}
	if want := slices.Sorted(maps.Keys(m.model)); !slices.Equal(names, want) {
		m.t.Fatalf("%s: stores %q, want %q", when, names, want)
	}
	err = m.db.View(m.ctx, sop.DefaultDomain, func(tx *sop.Tx) error {
		for _, name := range names {
			if err := checkScan(tx, m.model, nil, name, sop.Range{}, -1); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		m.t.Fatalf("%s: %v", when, err)
	}
}

// checkScan scans r in store, stopping after limit items unless limit < 0,
// and compares with what the model and the buffered writes w hold.
func checkScan(tx *sop.Tx, model metaModel, w metaWrites, store string, r sop.Range, limit int) error {
	var got []sop.Item
	for it, err := range tx.Scan(store, r) {
		if err != nil {
			return fmt.Errorf("scan %s: %w", store, err)
		}
		if len(got) == limit {
			break
		}
		got = append(got, it)
	}
	want := model.scan(w, store, r)
	if limit >= 0 && len(want) > limit {
		want = want[:limit]
	}
	if err := sameItems(got, want); err != nil {
		return fmt.Errorf("scan %s [%q, %q) reverse %v at seq %d: %w", store, r.Start, r.End, r.Reverse, tx.ReadVersion(), err)
	}
	return nil
}

// step runs one random sequential operation and applies it to the model.
func (m *metaRun) step() {
	switch r := m.rng.IntN(100); {
	case r < 25:
		m.update(1)
	case r < 50:
		m.update(2 + m.rng.IntN(9))
	case r < 65:
		m.txn()
	case r < 70:
		m.createStore(metaStores[m.rng.IntN(len(metaStores))], nil)
	case r < 73:
		m.dropStore()
	case r < 88:
		m.view()
	case r < 93:
		m.undone()
	default:
		m.docs()
	}
}

func (m *metaRun) key() string {
	k := fmt.Sprintf("k%02d", m.rng.IntN(metaKeys))
	if m.rng.IntN(40) == 0 {
		k += "-" + strings.Repeat("x", m.rng.IntN(sop.MaxKeySize-len(k)))
	}
	return k
}

// value returns a random value: mostly small, some empty, some a page or
// more, a few of up to 120 KiB (overflow pages).
func (m *metaRun) value() []byte {
	n := 1 + m.rng.IntN(200)
	switch r := m.rng.IntN(40); {
	case r == 0:
		n = 40<<10 + m.rng.IntN(80<<10)
	case r < 4:
		n = 3<<10 + m.rng.IntN(8<<10)
	case r < 6:
		n = 0
	}
	v := make([]byte, n)
	for i := range v {
		v[i] = byte(m.rng.Uint32())
	}
	return v
}

// plainStore returns a random existing store without an index
// specification, creating one when there is none.
func (m *metaRun) plainStore() string {
	var plain []string
	for name, s := range m.model {
		if s.spec == nil {
			plain = append(plain, name)
		}
	}
	if len(plain) == 0 {
		name := metaStores[m.rng.IntN(len(metaStores))]
		m.createStore(name, nil)
		return name
	}
	slices.Sort(plain)
	return plain[m.rng.IntN(len(plain))]
}

func (m *metaRun) randRange() sop.Range {
	var r sop.Range
	switch m.rng.IntN(4) {
	case 0:
	case 1:
		r = sop.Prefix(fmt.Appendf(nil, "k%d", m.rng.IntN(4)))
	default:
		a, b := m.key(), m.key()
		if a > b {
			a, b = b, a
		}
		r = sop.Range{Start: []byte(a), End: []byte(b)}
		if m.rng.IntN(4) == 0 {
			r.Start = nil
		}
	}
	r.Reverse = m.rng.IntN(2) == 0
	return r
}

// metaTxOp is one operation of an interactive transaction: 'p' put, 'd'
// delete, 'g' get, 's' scan.
type metaTxOp struct {
	kind  byte
	store string
	key   string
	value []byte
	rng   sop.Range
	limit int
}

// update commits an interactive transaction of n random operations,
// checking its reads against the model and its own writes.
func (m *metaRun) update(n int) {
	m.t.Helper()
	stores := []string{m.plainStore(), m.plainStore()}
	var ops []metaTxOp
	for range n {
		op := metaTxOp{store: stores[m.rng.IntN(2)], key: m.key()}
		switch r := m.rng.IntN(10); {
		case r < 5 || n == 1 && r < 8:
			op.kind, op.value = 'p', m.value()
		case r < 8 || n == 1:
			op.kind = 'd'
		case r < 9:
			op.kind = 'g'
		default:
			op.kind, op.rng, op.limit = 's', m.randRange(), m.rng.IntN(20)-5
		}
		ops = append(ops, op)
	}
	var w metaWrites
	seq, err := m.db.Update(m.ctx, sop.DefaultDomain, func(tx *sop.Tx) error {
		w = metaWrites{}
		for _, op := range ops {
			if err := m.runTxOp(tx, w, op); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		m.t.Fatalf("update: %v", err)
	}
	m.committed(seq, len(w) > 0)
	m.model.apply(w, seq)
}

func (m *metaRun) runTxOp(tx *sop.Tx, w metaWrites, op metaTxOp) error {
	key := []byte(op.key)
	switch op.kind {
	case 'p':
		w.set(op.store, op.key, metaWrite{value: op.value})
		return tx.Put(op.store, key, op.value)
	case 'd':
		w.set(op.store, op.key, metaWrite{del: true})
		return tx.Delete(op.store, key)
	case 'g':
		got, ok, err := tx.Get(op.store, key)
		if err != nil {
			return err
		}
		want, wantOK := m.model.get(w, op.store, op.key)
		if ok != wantOK || ok && sameItems([]sop.Item{got}, []sop.Item{want}) != nil {
			return fmt.Errorf("get %s %q: %s found %v, want %s found %v", op.store, op.key, describeItem(got), ok, describeItem(want), wantOK)
		}
		return nil
	}
	return checkScan(tx, m.model, w, op.store, op.rng, op.limit)
}

// committed checks the seq of a sequential commit that wrote something
// (or not).
func (m *metaRun) committed(seq uint64, wrote bool) {
	m.t.Helper()
	switch {
	case !wrote && seq != 0:
		m.t.Fatalf("a commit without writes got seq %d", seq)
	case wrote && seq <= m.last:
		m.t.Fatalf("commit got seq %d, not above the previous %d", seq, m.last)
	case wrote:
		m.last = seq
	}
}

// view scans a random range of a random store in a read-only transaction.
func (m *metaRun) view() {
	m.t.Helper()
	names := slices.Sorted(maps.Keys(m.model))
	store, r := names[m.rng.IntN(len(names))], m.randRange()
	limit := m.rng.IntN(30) - 10
	err := m.db.View(m.ctx, sop.DefaultDomain, func(tx *sop.Tx) error {
		return checkScan(tx, m.model, nil, store, r, limit)
	})
	if err != nil {
		m.t.Fatal(err)
	}
}

// undone runs transactions that commit nothing: one whose function fails
// after writing, one that only reads.
func (m *metaRun) undone() {
	m.t.Helper()
	store, key := m.plainStore(), m.key()
	before := m.applied()
	_, err := m.db.Update(m.ctx, sop.DefaultDomain, func(tx *sop.Tx) error {
		if err := tx.Put(store, []byte(key), []byte("never")); err != nil {
			return err
		}
		return errMetaUndo
	})
	if !errors.Is(err, errMetaUndo) {
		m.t.Fatalf("update whose function failed: %v, want its error", err)
	}
	seq, err := m.db.Update(m.ctx, sop.DefaultDomain, func(tx *sop.Tx) error {
		_, _, err := tx.Get(store, []byte(key))
		return err
	})
	if err != nil || seq != 0 {
		m.t.Fatalf("read-only update: seq %d, %v; want 0, nil", seq, err)
	}
	if after := m.applied(); after != before {
		m.t.Fatalf("transactions without writes moved the applied seq from %d to %d", before, after)
	}
}

func (m *metaRun) createStore(name string, spec index.Spec) {
	m.t.Helper()
	created, err := m.db.CreateStore(m.ctx, sop.DefaultDomain, name, spec)
	if err != nil {
		m.t.Fatalf("create store %s: %v", name, err)
	}
	if _, exists := m.model[name]; created == exists {
		m.t.Fatalf("create store %s: created %v, but it existed %v", name, created, exists)
	}
	if created {
		m.model[name] = &metaStore{spec: spec, items: map[string]metaItem{}}
		m.last = m.applied()
		m.stats["store created"]++
		return
	}
	if spec == nil {
		spec = metaSpec // creating it again with another spec fails
	} else {
		spec = nil
	}
	if _, err := m.db.CreateStore(m.ctx, sop.DefaultDomain, name, spec); !errors.Is(err, sop.ErrStoreExists) {
		m.t.Fatalf("create store %s with another spec: %v, want ErrStoreExists", name, err)
	}
}

// dropStore drops a random store of metaStores, present or not.
func (m *metaRun) dropStore() {
	m.t.Helper()
	name := metaStores[m.rng.IntN(len(metaStores))]
	seq, err := m.db.DropStore(m.ctx, sop.DefaultDomain, name)
	if _, exists := m.model[name]; !exists {
		if !errors.Is(err, sop.ErrStoreNotFound) {
			m.t.Fatalf("drop of missing store %s: %v, want ErrStoreNotFound", name, err)
		}
		return
	}
	if err != nil {
		m.t.Fatalf("drop store %s: %v", name, err)
	}
	m.committed(seq, true)
	delete(m.model, name)
	m.stats["store dropped"]++
}

// docs puts and deletes documents of the store with an index.
func (m *metaRun) docs() {
	m.t.Helper()
	w := metaWrites{}
	seq, err := m.db.Update(m.ctx, sop.DefaultDomain, func(tx *sop.Tx) error {
		clear(w)
		for i := range 3 {
			doc := fmt.Appendf(nil, `{"n":%d,"tag":"t%d","i":%d}`, i%2, m.last%3, m.last)
			key, err := tx.PutDoc(metaDocs, doc)
			if err != nil {
				return err
			}
			w.set(metaDocs, string(key), metaWrite{value: doc})
		}
		for _, key := range slices.Sorted(maps.Keys(m.model[metaDocs].items)) {
			if len(w[metaDocs]) < 5 {
				w.set(metaDocs, key, metaWrite{del: true})
				if err := tx.Delete(metaDocs, []byte(key)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		m.t.Fatalf("docs: %v", err)
	}
	m.committed(seq, true)
	m.model.apply(w, seq)
}

// txn runs a compare-and-set Txn whose outcome the model predicts, and now
// and then retries it with the same id.
func (m *metaRun) txn() {
	m.t.Helper()
	req := sop.TxnRequest{}
	for range 1 + m.rng.IntN(2) {
		req.Compare = append(req.Compare, m.condition())
	}
	req.Success = m.txnOps(m.rng.IntN(4))
	req.Failure = m.txnOps(m.rng.IntN(3))
	if m.rng.IntN(3) == 0 {
		m.txIDs++
		req.TxID = fmt.Sprintf("meta-%d", m.txIDs)
	}
	holds, w := m.predict(req)
	res, err := m.db.Txn(m.ctx, sop.DefaultDomain, req)
	if err != nil {
		m.t.Fatalf("txn: %v", err)
	}
	if res.Succeeded != holds {
		m.t.Fatalf("txn %+v: succeeded %v, the model says %v", req.Compare, res.Succeeded, holds)
	}
	m.committed(res.Seq, len(w) > 0)
	m.model.apply(w, res.Seq)
	m.stats[map[bool]string{true: "txn held", false: "txn failed"}[holds]]++
	if req.TxID == "" || res.Seq == 0 {
		return
	}
	// The same id again: when the branch it takes now writes, the journal
	// drops it as a duplicate. When it writes nothing, nothing reaches the
	// journal and Txn (today) answers as for a new request; either way
	// nothing may change.
	holds, w = m.predict(req)
	res, err = m.db.Txn(m.ctx, sop.DefaultDomain, req)
	switch {
	case errors.Is(err, sop.ErrAlreadyCommitted):
		m.stats["txn duplicate"]++
	case len(w) > 0:
		m.t.Fatalf("txn retried with the same id: %+v, %v; want ErrAlreadyCommitted", res, err)
	case err != nil || res.Seq != 0 || res.Succeeded != holds:
		m.t.Fatalf("txn retried with the same id, writing nothing: %+v, %v; want ErrAlreadyCommitted, or succeeded %v at seq 0", res, err, holds)
	default:
		m.stats["txn duplicate not noticed"]++
	}
}

// condition returns a condition on a random key that holds about half
// the time.
func (m *metaRun) condition() sop.Compare {
	c := sop.Compare{Store: m.plainStore(), Key: []byte(m.key())}
	if m.rng.IntN(10) == 0 {
		c.Store = "missing" // every item of a missing store is absent
	}
	it, ok := m.model.get(nil, c.Store, string(c.Key))
	switch r := m.rng.IntN(4); {
	case r == 0:
		c.Absent = true
	case r == 1:
		c.Present = true
	case ok && r == 2:
		c.Version = it.Version
	default:
		c.Version = m.last + 1 + uint64(m.rng.IntN(3)) - uint64(m.rng.IntN(2))*m.last/2
	}
	return c
}

func (m *metaRun) txnOps(n int) []sop.Op {
	var ops []sop.Op
	for range n {
		op := sop.Op{Store: m.plainStore(), Key: []byte(m.key())}
		if m.rng.IntN(3) == 0 {
			op.Delete = true
		} else {
			op.Value = m.value()
		}
		ops = append(ops, op)
	}
	return ops
}

// predict returns whether req's conditions hold in the model, and the
// writes of the branch that runs.
func (m *metaRun) predict(req sop.TxnRequest) (bool, metaWrites) {
	holds := true
	for _, c := range req.Compare {
		it, ok := m.model.get(nil, c.Store, string(c.Key))
		switch {
		case c.Absent:
			holds = holds && !ok
		case c.Present:
			holds = holds && ok
		default:
			holds = holds && ok && it.Version == c.Version
		}
	}
	branch := req.Failure
	if holds {
		branch = req.Success
	}
	w := metaWrites{}
	for _, op := range branch {
		w.set(op.Store, string(op.Key), metaWrite{value: op.Value, del: op.Delete})
	}
	return holds, w
}

// metaCommit is one write a concurrent writer committed.
type metaCommit struct {
	seq   uint64
	key   string
	write metaWrite
	ctr   uint64 // the counter's new value, for a write of "ctr"
}

// concurrent runs writers at once: each writes keys of its own in the
// concurrent store and increments a shared counter. Their writes are
// merged into the model by seq, and the counter must count every
// increment, one after the other.
func (m *metaRun) concurrent() {
	m.t.Helper()
	base := uint64(0)
	if it, ok := m.model[metaConc].items["ctr"]; ok {
		base = binary.BigEndian.Uint64(it.value)
	}
	var (
		mu      sync.Mutex
		commits []metaCommit
		wg      sync.WaitGroup
	)
	errc := make(chan error, metaWorkers)
	for w := range metaWorkers {
		rng := rand.New(rand.NewPCG(m.rng.Uint64(), uint64(w)))
		wg.Go(func() {
			mine, retries, err := m.concurrentWriter(rng, w)
			if err != nil {
				errc <- fmt.Errorf("writer %d: %w", w, err)
			}
			mu.Lock()
			commits = append(commits, mine...)
			m.stats["conflict retried"] += retries
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		m.t.Fatal(err)
	}
	slices.SortFunc(commits, func(a, b metaCommit) int { return cmp.Compare(a.seq, b.seq) })
	ctr := base
	for _, c := range commits {
		m.model.apply(metaWrites{metaConc: {c.key: c.write}}, c.seq)
		m.last = max(m.last, c.seq)
		if c.key == "ctr" {
			if ctr++; c.ctr != ctr {
				m.t.Fatalf("the counter went to %d at seq %d, want %d: an increment was lost", c.ctr, c.seq, ctr)
			}
		}
	}
}

// concurrentWriter commits a few random transactions of worker w and
// returns their writes and how often a conflict made Update run a
// function again.
func (m *metaRun) concurrentWriter(rng *rand.Rand, w int) (out []metaCommit, retries int, err error) {
	for range 5 + rng.IntN(10) {
		writes := map[string]metaWrite{}
		for range 1 + rng.IntN(3) {
			key := fmt.Sprintf("w%d-%02d", w, rng.IntN(10))
			if rng.IntN(4) == 0 {
				writes[key] = metaWrite{del: true}
			} else {
				writes[key] = metaWrite{value: fmt.Appendf(nil, "w%d-%d", w, rng.Uint32())}
			}
		}
		inc := rng.IntN(3) == 0
		var ctr uint64
		tries := 0
		seq, err := m.db.Update(m.ctx, sop.DefaultDomain, func(tx *sop.Tx) error {
			tries++
			for key, mw := range writes {
				if err := m.concurrentWrite(tx, key, mw); err != nil {
					return err
				}
			}
			if !inc {
				return nil
			}
			it, ok, err := tx.Get(metaConc, []byte("ctr"))
			if err != nil {
				return err
			}
			if ctr = 1; ok {
				ctr = binary.BigEndian.Uint64(it.Value) + 1
			}
			return tx.Put(metaConc, []byte("ctr"), binary.BigEndian.AppendUint64(nil, ctr))
		})
		if err != nil {
			return out, retries, err
		}
		retries += tries - 1
		for key, mw := range writes {
			out = append(out, metaCommit{seq: seq, key: key, write: mw})
		}
		if inc {
			out = append(out, metaCommit{seq: seq, key: "ctr", write: metaWrite{value: binary.BigEndian.AppendUint64(nil, ctr)}, ctr: ctr})
		}
	}
	return out, retries, nil
}

func (m *metaRun) concurrentWrite(tx *sop.Tx, key string, mw metaWrite) error {
	if mw.del {
		return tx.Delete(metaConc, []byte(key))
	}
	return tx.Put(metaConc, []byte(key), mw.value)
}
