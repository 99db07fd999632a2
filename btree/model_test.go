package btree

import (
	"math/rand/v2"
	"testing"
)

// TestModel applies random batches of puts and deletes to several trees and
// compares every state with a map: after each commit (through a reader),
// after aborts, across flushes and reopens from the saved checkpoint.
func TestModel(t *testing.T) {
	for _, ps := range []int{4096, 8192, 65536} {
		t.Run(itoa(ps), func(t *testing.T) { runModel(t, ps, 300) })
	}
}

func itoa(n int) string { return string(rune('0'+n/10000%10)) + string(rune('0'+n/1000%10)) + "k" }

func runModel(t *testing.T, pageSize, batches int) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 0))
	g := gen{r: r, pageSize: pageSize}
	fs := newMemFS(t)
	opts := Options{PageSize: pageSize, CacheSize: int64(64 * pageSize)}
	f := openTest(t, fs, Checkpoint{}, opts)
	m := model{}
	var saved Checkpoint
	savedModel := model{}
	for i := 0; i < batches; i++ {
		b, err := f.Begin()
		if err != nil {
			t.Fatal(err)
		}
		next := m.clone()
		applyRandom(t, b, g, next)
		if r.IntN(10) == 0 {
			b.Abort()
		} else {
			if r.IntN(10) == 0 {
				verifyAll(t, b, next)
			}
			if err := b.Commit(); err != nil {
				t.Fatal(err)
			}
			m = next
		}
		if r.IntN(8) == 0 {
			rd, _ := f.NewReader()
			verifyAll(t, rd, m)
			rd.Release()
			if err := f.Check(); err != nil {
				t.Fatalf("batch %d: %v", i, err)
			}
		}
		if r.IntN(6) == 0 {
			cp, err := f.Flush(func(cp Checkpoint) error { saved = cp; return nil })
			if err != nil {
				t.Fatal(err)
			}
			if cp.Version != f.Version() {
				t.Fatalf("checkpoint version %d, forest %d", cp.Version, f.Version())
			}
			savedModel = m.clone()
		}
		if r.IntN(25) == 0 {
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			f = openTest(t, fs, saved, opts)
			m = savedModel.clone()
			rd, _ := f.NewReader()
			verifyAll(t, rd, m)
			rd.Release()
		}
	}
}

// applyRandom runs a random mix of operations on b, mirroring them in m.
func applyRandom(t *testing.T, b *Batch, g gen, m model) {
	t.Helper()
	r := g.r
	if len(m) == 0 || r.IntN(30) == 0 {
		id := TreeID(r.IntN(6))
		if _, ok := m[id]; !ok {
			if err := b.CreateTree(id); err != nil {
				t.Fatal(err)
			}
			m[id] = map[string][]byte{}
		}
	}
	if len(m) > 1 && r.IntN(60) == 0 {
		for id := range m {
			if err := b.DropTree(id); err != nil {
				t.Fatal(err)
			}
			delete(m, id)
			break
		}
	}
	ids := make([]TreeID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return
	}
	n := 1 + r.IntN(200)
	for i := 0; i < n; i++ {
		id := ids[r.IntN(len(ids))]
		k := g.key()
		if r.IntN(3) == 0 {
			ok, err := b.Delete(id, k)
			if err != nil {
				t.Fatal(err)
			}
			_, want := m[id][string(k)]
			if ok != want {
				t.Fatalf("delete %q reported %v, model %v", short(string(k)), ok, want)
			}
			delete(m[id], string(k))
			continue
		}
		v := g.value()
		if err := b.Put(id, k, v); err != nil {
			t.Fatal(err)
		}
		m[id][string(k)] = v
	}
}
