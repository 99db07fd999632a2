package btree

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sopd/sop/internal/testseed"

	"github.com/sopd/sop/vfs"
)

// testSeed returns the seed for a randomized test and logs how to replay it.
func testSeed(t testing.TB) uint64 {
	t.Helper()
	return testseed.Seed(t)
}

// openTest opens a forest on fs and checks it when the test ends.
func openTest(t testing.TB, fs vfs.FS, cp Checkpoint, opts Options) *Forest {
	t.Helper()
	opts.FS = fs
	f, err := Open("/db/pages", cp, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if f.closed.Load() {
			return
		}
		if !f.wmu.TryLock() {
			return // a batch is still open: the test failed inside it
		}
		f.wmu.Unlock()
		if err := f.Check(); err != nil {
			t.Errorf("check at cleanup: %v", err)
		}
		f.Close()
	})
	return f
}

func newMemFS(t testing.TB) *vfs.MemFS {
	m := vfs.NewMem()
	if err := m.MkdirAll("/db", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.SyncDir("/"); err != nil {
		t.Fatal(err)
	}
	return m
}

// model is the expected content of every tree.
type model map[TreeID]map[string][]byte

func (m model) clone() model {
	out := model{}
	for id, t := range m {
		out[id] = maps.Clone(t)
	}
	return out
}

func (m model) sortedKeys(id TreeID) []string {
	return slices.Sorted(maps.Keys(m[id]))
}

// scanner is what Reader and Batch share for verification.
type scanner interface {
	Get(TreeID, []byte) ([]byte, bool, error)
	Cursor(TreeID, Bounds) (*Cursor, error)
	Trees() []TreeRoot
}

// verifyAll compares every tree of s with m: the tree set and counts, a
// full scan both ways, and point gets.
func verifyAll(t testing.TB, s scanner, m model) {
	t.Helper()
	trees := s.Trees()
	if len(trees) != len(m) {
		t.Fatalf("forest has %d trees, model %d", len(trees), len(m))
	}
	for _, tr := range trees {
		mt, ok := m[tr.ID]
		if !ok {
			t.Fatalf("tree %d exists but not in the model", tr.ID)
		}
		if tr.Count != uint64(len(mt)) {
			t.Fatalf("tree %d count %d, model %d", tr.ID, tr.Count, len(mt))
		}
		verifyRange(t, s, m, tr.ID, Bounds{}, false)
		verifyRange(t, s, m, tr.ID, Bounds{}, true)
		for k, v := range mt {
			got, ok, err := s.Get(tr.ID, []byte(k))
			if err != nil || !ok || !bytes.Equal(got, v) {
				t.Fatalf("tree %d get %q: ok=%v err=%v, value matches=%v", tr.ID, short(k), ok, err, bytes.Equal(got, v))
			}
		}
	}
}

// verifyRange scans tree id within b in one direction and compares with m.
func verifyRange(t testing.TB, s scanner, m model, id TreeID, b Bounds, reverse bool) {
	t.Helper()
	var want []string
	for _, k := range m.sortedKeys(id) {
		if b.Start != nil && k < string(b.Start) || b.End != nil && k >= string(b.End) {
			continue
		}
		want = append(want, k)
	}
	if reverse {
		slices.Reverse(want)
	}
	c, err := s.Cursor(id, b)
	if err != nil {
		t.Fatal(err)
	}
	ok := c.First()
	if reverse {
		ok = c.Last()
	}
	i := 0
	for ; ok; i++ {
		if i >= len(want) {
			t.Fatalf("tree %d scan (reverse=%v, bounds %q..%q) returned extra key %q", id, reverse, b.Start, b.End, short(string(c.Key())))
		}
		if string(c.Key()) != want[i] {
			t.Fatalf("tree %d scan (reverse=%v) item %d: key %q, want %q", id, reverse, i, short(string(c.Key())), short(want[i]))
		}
		v, err := c.Value()
		if err != nil || !bytes.Equal(v, m[id][want[i]]) {
			t.Fatalf("tree %d scan item %d value mismatch (err %v)", id, i, err)
		}
		if reverse {
			ok = c.Prev()
		} else {
			ok = c.Next()
		}
	}
	if c.Err() != nil {
		t.Fatalf("tree %d scan: %v", id, c.Err())
	}
	if i != len(want) {
		t.Fatalf("tree %d scan (reverse=%v, bounds %q..%q) returned %d keys, want %d", id, reverse, b.Start, b.End, i, len(want))
	}
}

func short(k string) string {
	if len(k) > 40 {
		return fmt.Sprintf("%s...(%d bytes)", k[:32], len(k))
	}
	return k
}

// gen makes keys and values for randomized tests.
type gen struct {
	r        *rand.Rand
	pageSize int
}

func (g gen) key() []byte {
	switch n := g.r.IntN(100); {
	case n < 70:
		return fmt.Appendf(nil, "k%05d", g.r.IntN(3000))
	case n < 95:
		b := make([]byte, 1+g.r.IntN(64))
		for i := range b {
			b[i] = byte(g.r.IntN(4)) + 'a'
		}
		return b
	case n < 99:
		return g.bytes(min(MaxKeySize, maxLocalKey(g.pageSize)-8+g.r.IntN(24)), 'b')
	default:
		return g.bytes(1+g.r.IntN(MaxKeySize), 'c')
	}
}

// bytes returns n bytes with a common prefix, so long keys share prefixes.
func (g gen) bytes(n int, prefix byte) []byte {
	b := bytes.Repeat([]byte{prefix}, n)
	for i := n / 2; i < n; i++ {
		b[i] = byte(g.r.IntN(3)) + 'x'
	}
	return b
}

func (g gen) value() []byte {
	var n int
	switch x := g.r.IntN(100); {
	case x < 80:
		n = g.r.IntN(120)
	case x < 99:
		n = g.r.IntN(3 * g.pageSize)
	default:
		n = g.r.IntN(64 << 10)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return b
}

func newRand(t testing.TB) *rand.Rand {
	return rand.New(rand.NewPCG(testSeed(t), 9))
}
