package projector_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sopd/sop/btree"
	"github.com/sopd/sop/index"
	"github.com/sopd/sop/internal/testseed"
	"github.com/sopd/sop/journal"
	"github.com/sopd/sop/projector"
	"github.com/sopd/sop/vfs"
)

// domain is a forest and a projector over it, for tests.
type domain struct {
	t    testing.TB
	f    *btree.Forest
	p    *projector.Projector
	seq  uint64
	evts []projector.Event
}

func newDomain(t testing.TB, opts projector.Options) *domain {
	t.Helper()
	mem := vfs.NewMem()
	if err := mem.MkdirAll("/d", 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := btree.Open("/d/pages", btree.Checkpoint{}, btree.Options{FS: mem, RelayoutIdle: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Check(); err != nil {
			t.Errorf("check: %v", err)
		}
		f.Close()
	})
	return &domain{t: t, f: f, p: projector.New(projector.NewCatalog(), opts)}
}

// apply applies e as the next seq in its own batch and returns Apply's
// error; on error the batch is aborted and the catalog reset.
func (d *domain) apply(e journal.Entry) error {
	d.t.Helper()
	b, err := d.f.Begin()
	if err != nil {
		d.t.Fatal(err)
	}
	cat := d.p.Catalog()
	d.seq++ // a rejected entry still has its seq in the journal
	e.TxID, e.Domain = fmt.Sprintf("tx%d", d.seq), "d"
	if err := d.p.Apply(b, d.seq, &e, func(ev projector.Event) { d.evts = append(d.evts, ev) }); err != nil {
		b.Abort()
		d.p.Reset(cat)
		return err
	}
	if err := b.Commit(); err != nil {
		d.t.Fatal(err)
	}
	return nil
}

func (d *domain) mustApply(ops ...journal.Op) {
	d.t.Helper()
	if err := d.apply(journal.Entry{Ops: ops}); err != nil {
		d.t.Fatal(err)
	}
}

func (d *domain) get(store, key string) (uint64, string, bool) {
	d.t.Helper()
	s, ok := d.p.Catalog().Store(store)
	if !ok {
		return 0, "", false
	}
	r, err := d.f.NewReader()
	if err != nil {
		d.t.Fatal(err)
	}
	defer r.Release()
	b, ok, err := r.Get(s.Tree, []byte(key))
	if err != nil {
		d.t.Fatal(err)
	}
	if !ok {
		return 0, "", false
	}
	v, val, err := projector.DecodeItem(b)
	if err != nil {
		d.t.Fatal(err)
	}
	return v, string(val), true
}

func (d *domain) hash() []byte {
	d.t.Helper()
	r, err := d.f.NewReader()
	if err != nil {
		d.t.Fatal(err)
	}
	defer r.Release()
	h, err := projector.Hash(r, d.p.Catalog())
	if err != nil {
		d.t.Fatal(err)
	}
	return h
}

func create(store string, index ...journal.IndexField) journal.Op {
	return journal.Op{Kind: journal.OpCreateStore, Store: store, Index: index}
}
func drop(store string) journal.Op { return journal.Op{Kind: journal.OpDropStore, Store: store} }
func put(store, key, value string) journal.Op {
	return journal.Op{Kind: journal.OpPut, Store: store, Key: []byte(key), Value: []byte(value)}
}
func del(store, key string) journal.Op {
	return journal.Op{Kind: journal.OpDelete, Store: store, Key: []byte(key)}
}

func TestApplyVersionsAndEvents(t *testing.T) {
	d := newDomain(t, projector.Options{OldValues: true})
	d.mustApply(create("s"))
	d.mustApply(put("s", "a", "1"), put("s", "b", "2"))
	d.mustApply(put("s", "a", "3"), del("s", "b"), del("s", "missing"))
	if v, val, ok := d.get("s", "a"); !ok || v != 3 || val != "3" {
		t.Fatalf("a = %q@%d %v, want 3@3", val, v, ok)
	}
	if _, _, ok := d.get("s", "b"); ok {
		t.Fatal("b still exists after its delete")
	}
	want := []projector.Event{
		{Seq: 1, Store: "s", Op: journal.OpCreateStore},
		{Seq: 2, Store: "s", Op: journal.OpPut, Key: []byte("a"), Value: []byte("1")},
		{Seq: 2, Store: "s", Op: journal.OpPut, Key: []byte("b"), Value: []byte("2")},
		{Seq: 3, Store: "s", Op: journal.OpPut, Key: []byte("a"), Value: []byte("3"), OldValue: []byte("1"), OldVersion: 2},
		{Seq: 3, Store: "s", Op: journal.OpDelete, Key: []byte("b"), OldValue: []byte("2"), OldVersion: 2},
	}
	if len(d.evts) != len(want) {
		t.Fatalf("events %+v, want %+v", d.evts, want)
	}
	for i := range want {
		g, w := d.evts[i], want[i]
		if g.Seq != w.Seq || g.Store != w.Store || g.Op != w.Op || !bytes.Equal(g.Key, w.Key) ||
			!bytes.Equal(g.Value, w.Value) || !bytes.Equal(g.OldValue, w.OldValue) || g.OldVersion != w.OldVersion {
			t.Errorf("event %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestApplyRejects(t *testing.T) {
	d := newDomain(t, projector.Options{})
	d.mustApply(create("s"))
	d.mustApply(put("s", "k", "v")) // seq 2
	cases := []struct {
		name  string
		entry journal.Entry
		want  error
	}{
		{"put into a missing store", journal.Entry{Ops: []journal.Op{put("nope", "k", "v")}}, projector.ErrStoreNotFound},
		{"create an existing store", journal.Entry{Ops: []journal.Op{create("s")}}, projector.ErrStoreExists},
		{"drop a missing store", journal.Entry{Ops: []journal.Op{drop("nope")}}, projector.ErrStoreNotFound},
		{"put after drop in one entry", journal.Entry{Ops: []journal.Op{drop("s"), put("s", "k", "v")}}, projector.ErrStoreNotFound},
		{"version condition fails", journal.Entry{Conds: []journal.Cond{{Kind: journal.CondVersion, Store: "s", Key: []byte("k"), Version: 1}}, Ops: []journal.Op{put("s", "k", "x")}}, projector.ErrConditionFailed},
		{"absent condition fails", journal.Entry{Conds: []journal.Cond{{Kind: journal.CondAbsent, Store: "s", Key: []byte("k")}}, Ops: []journal.Op{put("s", "k", "x")}}, projector.ErrConditionFailed},
		{"present condition fails", journal.Entry{Conds: []journal.Cond{{Kind: journal.CondPresent, Store: "s", Key: []byte("z")}}, Ops: []journal.Op{put("s", "k", "x")}}, projector.ErrConditionFailed},
		{"present condition on a missing store", journal.Entry{Conds: []journal.Cond{{Kind: journal.CondPresent, Store: "nope", Key: []byte("k")}}, Ops: []journal.Op{put("s", "k", "x")}}, projector.ErrConditionFailed},
		{"put a non-compound key into an index store", journal.Entry{Ops: []journal.Op{create("idx", journal.IndexField{Field: "f"}), put("idx", "k", "v")}}, projector.ErrBadKey},
		// A rejected entry changes nothing, even when its first ops were fine.
		{"late op rejects the whole entry", journal.Entry{Ops: []journal.Op{put("s", "k", "changed"), create("t"), put("nope", "k", "v")}}, projector.ErrStoreNotFound},
	}
	before := d.hash()
	for _, c := range cases {
		err := d.apply(c.entry)
		if !errors.Is(err, projector.ErrRejected) || !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want a rejection wrapping %v", c.name, err, c.want)
		}
	}
	if !bytes.Equal(d.hash(), before) {
		t.Fatal("a rejected entry changed the state")
	}
	for _, name := range []string{"t", "idx"} {
		if _, ok := d.p.Catalog().Store(name); ok {
			t.Fatalf("a rejected entry created store %q", name)
		}
	}
	key, err := index.Spec{{Name: "f"}}.KeyOf([]any{"k"})
	if err != nil {
		t.Fatal(err)
	}
	d.mustApply(create("idx", journal.IndexField{Field: "f"}), journal.Op{Kind: journal.OpPut, Store: "idx", Key: key, Value: []byte("{}")})
	// The conditions that hold let the entry through.
	err = d.apply(journal.Entry{
		Conds: []journal.Cond{
			{Kind: journal.CondVersion, Store: "s", Key: []byte("k"), Version: 2},
			{Kind: journal.CondAbsent, Store: "s", Key: []byte("z")},
			{Kind: journal.CondAbsent, Store: "nope", Key: []byte("z")},
			{Kind: journal.CondPresent, Store: "s", Key: []byte("k")},
		},
		Ops: []journal.Op{drop("s"), create("s"), put("s", "k", "new")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, val, ok := d.get("s", "k"); !ok || val != "new" || v != d.seq {
		t.Fatalf("k = %q@%d, want new@%d", val, v, d.seq)
	}
}

// TestHashDependsOnContentOnly: two domains that reach the same stores
// and items by different paths (different tree ids, versions aside) hash
// alike; any difference in content, version or definition shows.
func TestHashDependsOnContentOnly(t *testing.T) {
	a := newDomain(t, projector.Options{})
	a.mustApply(create("s"), put("s", "k", "v"), create("u"))
	b := newDomain(t, projector.Options{})
	b.mustApply(create("s"), put("s", "k", "v"), create("u"), create("tmp"))
	if bytes.Equal(a.hash(), b.hash()) {
		t.Fatal("an extra store did not change the hash")
	}
	b2 := newDomain(t, projector.Options{})
	b2.mustApply(create("tmp"), create("u"), create("s"), put("s", "k", "v"))
	b2.mustApply(drop("tmp"))
	if !bytes.Equal(a.hash(), b2.hash()) {
		t.Fatal("the same content under other tree ids hashes differently")
	}
	c := newDomain(t, projector.Options{})
	c.mustApply(create("s"), create("u"))
	c.mustApply(put("s", "k", "v")) // same items, version 2 instead of 1
	if bytes.Equal(a.hash(), c.hash()) {
		t.Fatal("a different version did not change the hash")
	}
	e := newDomain(t, projector.Options{})
	e.mustApply(create("s"), put("s", "k", "v"), create("u", journal.IndexField{Field: "f"}))
	if bytes.Equal(a.hash(), e.hash()) {
		t.Fatal("an index specification did not change the hash")
	}
}

// TestDeterministic: the same random entries applied to two forests, one
// entry per batch and all in one batch, give equal hashes.
func TestDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(testseed.Seed(t)), 3))
	entries := randomEntries(rng, 300)
	a := newDomain(t, projector.Options{})
	for _, e := range entries {
		_ = a.apply(e) // rejections are part of the workload
	}
	b := newDomain(t, projector.Options{})
	batch, err := b.f.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range entries {
		e := entries[i]
		e.TxID, e.Domain = "x", "d"
		err := b.p.Apply(batch, uint64(i+1), &e, nil)
		if err != nil && !errors.Is(err, projector.ErrRejected) {
			t.Fatal(err)
		}
	}
	if err := batch.Commit(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.hash(), b.hash()) {
		t.Fatal("batching changed the projected state")
	}
}

func randomEntries(rng *rand.Rand, n int) []journal.Entry {
	stores := []string{"a", "b", "c"}
	var out []journal.Entry
	for range n {
		var e journal.Entry
		for range 1 + rng.IntN(4) {
			s := stores[rng.IntN(len(stores))]
			key := fmt.Sprintf("k%02d", rng.IntN(30))
			switch r := rng.IntN(100); {
			case r < 5:
				e.Ops = append(e.Ops, create(s))
			case r < 7:
				e.Ops = append(e.Ops, drop(s))
			case r < 75:
				e.Ops = append(e.Ops, put(s, key, fmt.Sprint(rng.Uint32())))
			default:
				e.Ops = append(e.Ops, del(s, key))
			}
		}
		if rng.IntN(5) == 0 {
			e.Conds = append(e.Conds, journal.Cond{Kind: journal.CondAbsent, Store: stores[rng.IntN(3)], Key: []byte(fmt.Sprintf("k%02d", rng.IntN(30)))})
		}
		out = append(out, e)
	}
	return out
}

func TestCatalogRoundTrip(t *testing.T) {
	d := newDomain(t, projector.Options{})
	d.mustApply(create("plain"), create("idx", journal.IndexField{Field: "a.b"}, journal.IndexField{Field: "c", Desc: true}))
	d.mustApply(create("gone"))
	d.mustApply(drop("gone"))
	cat := d.p.Catalog()
	b, err := cat.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got projector.Catalog
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Stores()) != fmt.Sprint(cat.Stores()) || got.NextTree() != cat.NextTree() {
		t.Fatalf("round trip: %v next %d, want %v next %d", got.Stores(), got.NextTree(), cat.Stores(), cat.NextTree())
	}
	for i := range b {
		if err := new(projector.Catalog).UnmarshalBinary(b[:i]); !errors.Is(err, projector.ErrBadCatalog) {
			t.Fatalf("truncated to %d bytes: err %v, want ErrBadCatalog", i, err)
		}
	}
}

func FuzzCatalog(f *testing.F) {
	cat := projector.NewCatalog()
	b, _ := cat.MarshalBinary()
	f.Add(b)
	f.Add([]byte{1, 5, 1, 1, 's', 1, 1, 1, 1, 'f', 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var c projector.Catalog
		if err := c.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, projector.ErrBadCatalog) {
				t.Fatalf("error %v does not wrap ErrBadCatalog", err)
			}
			return
		}
		again, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var c2 projector.Catalog
		if err := c2.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded catalog does not decode: %v", err)
		}
	})
}

func TestDecodeItem(t *testing.T) {
	b := projector.AppendItem(nil, 300, []byte("val"))
	v, val, err := projector.DecodeItem(b)
	if err != nil || v != 300 || string(val) != "val" {
		t.Fatalf("got %d %q %v", v, val, err)
	}
	for _, bad := range [][]byte{nil, {0}, {0x80}} {
		if _, _, err := projector.DecodeItem(bad); !errors.Is(err, projector.ErrBadItem) {
			t.Errorf("DecodeItem(%x): err %v, want ErrBadItem", bad, err)
		}
	}
}
