// Package snapshottest is the conformance suite every snapshot.Store
// passes: Dir in package snapshot, and the object-store and Cassandra
// stores in their own packages.
package snapshottest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sopd/sop/snapshot"
)

// Run runs the suite's subtests against stores made by newStore. Each
// subtest calls newStore once, with its own t, and expects an empty store
// (or one whose domains the suite's names do not meet); newStore registers
// any cleanup with t.Cleanup. Subtests run one after another.
//
// What a store must do beyond the interface's doc, as checked here:
// List of a domain with no snapshots is empty without error; List, Open
// and Delete of a bad domain or ID fail with ErrBadID, as Put does; Put
// returns Bytes equal to the bytes read and a non-zero Created, and List
// and Open report the same Bytes and a Created within a second of it; a
// failed Put leaves the ID free for a later Put.
func Run(t *testing.T, newStore func(t *testing.T) snapshot.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, snapshot.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"ListOrder", testListOrder},
		{"Exists", testExists},
		{"NotFound", testNotFound},
		{"BadID", testBadID},
		{"FailedReader", testFailedReader},
		{"CancelledPut", testCancelledPut},
		{"ConcurrentPuts", testConcurrentPuts},
		{"Prune", testPrune},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

const domain = "conformance"

// id returns a snapshot ID at seq; n tells apart IDs of one seq.
func id(seq uint64, n uint32) string { return snapshot.NewID(seq, n) }

func meta(domain string, seq uint64, n uint32) snapshot.Meta {
	return snapshot.Meta{ID: id(seq, n), Domain: domain, Seq: seq}
}

// content returns size deterministic pseudo-random bytes.
func content(seed uint64, size int) []byte {
	rng := rand.New(rand.NewPCG(seed, 17))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func put(t *testing.T, st snapshot.Store, m snapshot.Meta, data []byte) snapshot.Meta {
	t.Helper()
	got, err := st.Put(context.Background(), m, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Put %s/%s: %v", m.Domain, m.ID, err)
	}
	return got
}

// read opens domain/id and returns its bytes and Meta.
func read(t *testing.T, st snapshot.Store, domain, id string) ([]byte, snapshot.Meta) {
	t.Helper()
	rc, m, err := st.Open(context.Background(), domain, id)
	if err != nil {
		t.Fatalf("Open %s/%s: %v", domain, id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s/%s: %v", domain, id, err)
	}
	return b, m
}

func list(t *testing.T, st snapshot.Store, domain string) []snapshot.Meta {
	t.Helper()
	metas, err := st.List(context.Background(), domain)
	if err != nil {
		t.Fatalf("List %s: %v", domain, err)
	}
	return metas
}

func ids(metas []snapshot.Meta) []string {
	out := make([]string, len(metas))
	for i, m := range metas {
		out[i] = m.ID
	}
	return out
}

// sameMeta checks a Meta reported by List or Open against the one Put
// returned.
func sameMeta(t *testing.T, what string, got, want snapshot.Meta) {
	t.Helper()
	if got.ID != want.ID || got.Domain != want.Domain || got.Seq != want.Seq || got.Bytes != want.Bytes {
		t.Errorf("%s: Meta %+v, Put returned %+v", what, got, want)
	}
	if d := got.Created.Sub(want.Created).Abs(); d > time.Second {
		t.Errorf("%s: Created %v, Put returned %v", what, got.Created, want.Created)
	}
}

func testRoundTrip(t *testing.T, st snapshot.Store) {
	for i, size := range []int{0, 1, 1000, 5<<20 + 12345} {
		data := content(uint64(i), size)
		m := meta(domain, uint64(100+i), 0xabc)
		got := put(t, st, m, data)
		if got.ID != m.ID || got.Domain != m.Domain || got.Seq != m.Seq {
			t.Errorf("Put returned %+v for %+v", got, m)
		}
		if got.Bytes != int64(size) || got.Created.IsZero() {
			t.Errorf("Put of %d bytes returned Bytes %d, Created %v", size, got.Bytes, got.Created)
		}
		back, om := read(t, st, domain, m.ID)
		if !bytes.Equal(back, data) {
			t.Fatalf("%d bytes put, %d read back, equal: %v", size, len(back), bytes.Equal(back, data))
		}
		sameMeta(t, "Open", om, got)
		for _, lm := range list(t, st, domain) {
			if lm.ID == m.ID {
				sameMeta(t, "List", lm, got)
			}
		}
	}
}

func testListOrder(t *testing.T, st snapshot.Store) {
	if got := list(t, st, domain); len(got) != 0 {
		t.Fatalf("List of an empty domain: %v", ids(got))
	}
	puts := []snapshot.Meta{
		meta(domain, 20, 5), meta(domain, 3, 1), meta(domain, 100, 2),
		meta(domain, 20, 0xffffffff), meta(domain, 20, 7), meta(domain, 1, 0),
		meta("other-domain", 500, 1),
	}
	for i, m := range puts {
		put(t, st, m, content(uint64(i), 10+i))
	}
	want := []string{id(100, 2), id(20, 0xffffffff), id(20, 7), id(20, 5), id(3, 1), id(1, 0)}
	got := list(t, st, domain)
	if !slices.Equal(ids(got), want) {
		t.Fatalf("List: %v, want %v", ids(got), want)
	}
	for _, m := range got {
		if m.Domain != domain || m.Bytes == 0 || m.Created.IsZero() {
			t.Errorf("List gave %+v", m)
		}
	}
	if got := ids(list(t, st, "other-domain")); !slices.Equal(got, []string{id(500, 1)}) {
		t.Errorf("List of the other domain: %v", got)
	}
}

func testExists(t *testing.T, st snapshot.Store) {
	m := meta(domain, 7, 1)
	first := content(1, 100)
	put(t, st, m, first)
	_, err := st.Put(context.Background(), m, bytes.NewReader(content(2, 50)))
	if !errors.Is(err, snapshot.ErrExists) {
		t.Fatalf("second Put of one ID: %v, want ErrExists", err)
	}
	if back, _ := read(t, st, domain, m.ID); !bytes.Equal(back, first) {
		t.Fatal("a refused Put changed the stored snapshot")
	}
	// The same ID in another domain is another snapshot.
	put(t, st, meta("other-domain", 7, 1), content(3, 10))
}

func testNotFound(t *testing.T, st snapshot.Store) {
	ctx := context.Background()
	put(t, st, meta(domain, 5, 1), content(1, 10))
	for _, c := range []struct{ domain, id string }{{domain, id(5, 2)}, {domain, id(6, 1)}, {"nothing-here", id(5, 1)}} {
		if _, _, err := st.Open(ctx, c.domain, c.id); !errors.Is(err, snapshot.ErrNotFound) {
			t.Errorf("Open %s/%s: %v, want ErrNotFound", c.domain, c.id, err)
		}
		if err := st.Delete(ctx, c.domain, c.id); !errors.Is(err, snapshot.ErrNotFound) {
			t.Errorf("Delete %s/%s: %v, want ErrNotFound", c.domain, c.id, err)
		}
	}
	if err := st.Delete(ctx, domain, id(5, 1)); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, _, err := st.Open(ctx, domain, id(5, 1)); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("Open after Delete: %v, want ErrNotFound", err)
	}
	if err := st.Delete(ctx, domain, id(5, 1)); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	if got := list(t, st, domain); len(got) != 0 {
		t.Errorf("List after Delete: %v", ids(got))
	}
}

func testBadID(t *testing.T, st snapshot.Store) {
	ctx := context.Background()
	good := id(1, 1)
	for _, c := range []struct{ domain, id string }{
		{"", good}, {"a/b", good}, {"..", good}, {"dömain", good}, {strings.Repeat("a", 65), good},
		{domain, ""}, {domain, "1-1"}, {domain, "../" + good}, {domain, good + "x"}, {domain, "0000000000000000000a-00000001"},
		{domain, "00000000000000000001-0000000G"},
	} {
		m := snapshot.Meta{ID: c.id, Domain: c.domain, Seq: 1}
		if _, err := st.Put(ctx, m, bytes.NewReader([]byte("x"))); !errors.Is(err, snapshot.ErrBadID) {
			t.Errorf("Put %q/%q: %v, want ErrBadID", c.domain, c.id, err)
		}
		if _, _, err := st.Open(ctx, c.domain, c.id); !errors.Is(err, snapshot.ErrBadID) {
			t.Errorf("Open %q/%q: %v, want ErrBadID", c.domain, c.id, err)
		}
		if err := st.Delete(ctx, c.domain, c.id); !errors.Is(err, snapshot.ErrBadID) {
			t.Errorf("Delete %q/%q: %v, want ErrBadID", c.domain, c.id, err)
		}
	}
	for _, d := range []string{"", "a/b", "a b"} {
		if _, err := st.List(ctx, d); !errors.Is(err, snapshot.ErrBadID) {
			t.Errorf("List %q: %v, want ErrBadID", d, err)
		}
	}
}

// failingReader gives n bytes, then fails with err; on its first read
// after n bytes it calls before, if set.
type failingReader struct {
	data   []byte
	n      int
	err    error
	before func()
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		if f.before != nil {
			f.before()
			f.before = nil
		}
		if f.err != nil {
			return 0, f.err
		}
	}
	if len(f.data) == 0 {
		return 0, io.EOF
	}
	k := len(p)
	if f.n > 0 {
		k = min(k, f.n)
	}
	k = copy(p, f.data[:min(k, len(f.data))])
	f.data = f.data[k:]
	f.n -= min(f.n, k)
	return k, nil
}

var errReader = errors.New("snapshottest: reader failed on purpose")

// nothingVisible checks that m was not stored, and that its ID is free.
func nothingVisible(t *testing.T, st snapshot.Store, m snapshot.Meta) {
	t.Helper()
	if got := list(t, st, m.Domain); len(got) != 0 {
		t.Errorf("List after a failed Put: %v", ids(got))
	}
	if _, _, err := st.Open(context.Background(), m.Domain, m.ID); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("Open after a failed Put: %v, want ErrNotFound", err)
	}
	data := content(9, 1234)
	put(t, st, m, data)
	if back, _ := read(t, st, m.Domain, m.ID); !bytes.Equal(back, data) {
		t.Error("a Put after a failed one stored other bytes")
	}
}

func testFailedReader(t *testing.T, st snapshot.Store) {
	m := meta(domain, 9, 1)
	data := content(1, 3<<20)
	_, err := st.Put(context.Background(), m, &failingReader{data: data, n: 2 << 20, err: errReader})
	if err == nil {
		t.Fatal("Put whose reader failed returned no error")
	}
	nothingVisible(t, st, m)
}

func testCancelledPut(t *testing.T, st snapshot.Store) {
	m := meta(domain, 9, 2)
	data := content(2, 3<<20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := st.Put(ctx, m, &failingReader{data: data, n: 2 << 20, before: cancel})
	if err == nil {
		t.Fatal("Put whose ctx was cancelled midway returned no error")
	}
	nothingVisible(t, st, m)
}

func testConcurrentPuts(t *testing.T, st snapshot.Store) {
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			d := domain
			if i%2 == 1 {
				d = "other-domain"
			}
			_, errs[i] = st.Put(context.Background(), meta(d, uint64(i), uint32(i)), bytes.NewReader(content(uint64(i), 100<<10)))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if a, b := len(list(t, st, domain)), len(list(t, st, "other-domain")); a != n/2 || b != n/2 {
		t.Fatalf("List after %d concurrent Puts: %d and %d", n, a, b)
	}
	for i := range n {
		d := domain
		if i%2 == 1 {
			d = "other-domain"
		}
		if back, _ := read(t, st, d, id(uint64(i), uint32(i))); !bytes.Equal(back, content(uint64(i), 100<<10)) {
			t.Errorf("snapshot %d read back wrong", i)
		}
	}
}

func testPrune(t *testing.T, st snapshot.Store) {
	ctx := context.Background()
	for i := range 5 {
		put(t, st, meta(domain, uint64(10*i), 1), content(uint64(i), 10))
	}
	put(t, st, meta("other-domain", 1, 1), content(9, 10))
	gone, err := snapshot.Prune(ctx, st, domain, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(gone), []string{id(20, 1), id(10, 1), id(0, 1)}; !slices.Equal(got, want) {
		t.Errorf("Prune deleted %v, want %v", got, want)
	}
	if got, want := ids(list(t, st, domain)), []string{id(40, 1), id(30, 1)}; !slices.Equal(got, want) {
		t.Errorf("after Prune: %v, want %v", got, want)
	}
	if _, err := snapshot.Prune(ctx, st, domain, 0); err != nil {
		t.Fatal(err)
	}
	if got := ids(list(t, st, domain)); !slices.Equal(got, []string{id(40, 1)}) {
		t.Errorf("Prune keeping 0 keeps the newest: %v", got)
	}
	if got := list(t, st, "other-domain"); len(got) != 1 {
		t.Errorf("Prune touched another domain: %v", ids(got))
	}
}
