package btree

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
)

// loadFrom returns a Load source over sorted keys of m's tree.
func loadFrom(m model, id TreeID) func() ([]byte, []byte, error) {
	keys := m.sortedKeys(id)
	i := 0
	return func() ([]byte, []byte, error) {
		if i == len(keys) {
			return nil, nil, io.EOF
		}
		k := keys[i]
		i++
		return []byte(k), m[id][k], nil
	}
}

func TestBulkLoad(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 2))
	for _, tc := range []struct {
		pageSize, keys int
	}{{4096, 0}, {4096, 1}, {4096, 5000}, {8192, 30000}, {4096, 800}} {
		t.Run(fmt.Sprint(tc.pageSize, "/", tc.keys), func(t *testing.T) {
			g := gen{r: r, pageSize: tc.pageSize}
			m := model{1: {}}
			for len(m[1]) < tc.keys {
				k := g.key()
				m[1][string(k[:min(len(k), 4000)])+fmt.Sprint(len(m[1]))] = g.value()
			}
			// A small cache and spill size make the load write and evict pages.
			f := openTest(t, newMemFS(t), Checkpoint{}, Options{PageSize: tc.pageSize, CacheSize: int64(64 * tc.pageSize)})
			b, _ := f.Begin()
			b.CreateTree(1)
			if err := b.Load(1, loadFrom(m, 1)); err != nil {
				t.Fatal(err)
			}
			verifyAll(t, b, m)
			b.Commit()
			if err := f.Check(); err != nil {
				t.Fatal(err)
			}
			// The loaded tree takes further writes.
			b, _ = f.Begin()
			applyRandom(t, b, g, m)
			b.Commit()
			rd, _ := f.NewReader()
			verifyAll(t, rd, m)
			rd.Release()
		})
	}
}

// TestBulkLoadFill checks that loaded leaves are full: far fewer pages than
// random inserts of the same data need.
func TestBulkLoadFill(t *testing.T) {
	m := model{1: {}}
	for i := 0; i < 20000; i++ {
		m[1][fmt.Sprintf("%08d", i*7919%1000003)] = bytes.Repeat([]byte{'v'}, 40)
	}
	pages := func(load bool) PageID {
		f := openTest(t, newMemFS(t), Checkpoint{}, Options{PageSize: 4096})
		b, _ := f.Begin()
		b.CreateTree(1)
		if load {
			if err := b.Load(1, loadFrom(m, 1)); err != nil {
				t.Fatal(err)
			}
		} else {
			keys := m.sortedKeys(1)
			rand.New(rand.NewPCG(1, 1)).Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			for _, k := range keys {
				b.Put(1, []byte(k), m[1][k])
			}
		}
		b.Commit()
		return f.alloc.hw
	}
	loaded, inserted := pages(true), pages(false)
	if float64(loaded) > 0.8*float64(inserted) {
		t.Fatalf("bulk load used %d pages, random inserts %d: leaves are not full", loaded, inserted)
	}
	t.Logf("bulk load %d pages, random inserts %d", loaded, inserted)
}

func TestBulkLoadErrors(t *testing.T) {
	f := openTest(t, newMemFS(t), Checkpoint{}, Options{})
	b, _ := f.Begin()
	b.CreateTree(1)
	keys := [][]byte{[]byte("a"), []byte("c"), []byte("b")}
	i := 0
	err := b.Load(1, func() ([]byte, []byte, error) {
		if i == len(keys) {
			return nil, nil, io.EOF
		}
		i++
		return keys[i-1], nil, nil
	})
	if !errors.Is(err, ErrUnsorted) {
		t.Fatalf("unsorted input: %v", err)
	}
	b.Abort()

	b, _ = f.Begin()
	b.CreateTree(1)
	b.Put(1, []byte("x"), nil)
	if err := b.Load(1, loadFrom(model{1: {"a": nil}}, 1)); !errors.Is(err, ErrTreeNotEmpty) {
		t.Fatalf("load into a non-empty tree: %v", err)
	}
	errSrc := errors.New("source broke")
	b.CreateTree(2)
	if err := b.Load(2, func() ([]byte, []byte, error) { return nil, nil, errSrc }); !errors.Is(err, errSrc) {
		t.Fatalf("source error: %v", err)
	}
	b.Abort()
	if err := f.Check(); err != nil {
		t.Fatalf("check after aborted loads: %v", err)
	}
}

// TestCursorBounds checks seeks and bounded scans in both directions
// against the model on one tree.
func TestCursorBounds(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 3))
	g := gen{r: r, pageSize: 4096}
	f := openTest(t, newMemFS(t), Checkpoint{}, Options{PageSize: 4096})
	m := model{1: {}}
	b, _ := f.Begin()
	b.CreateTree(1)
	for i := 0; i < 3000; i++ {
		k := g.key()
		v := []byte(fmt.Sprint(i))
		b.Put(1, k, v)
		m[1][string(k)] = v
	}
	b.Commit()
	rd, _ := f.NewReader()
	defer rd.Release()
	keys := m.sortedKeys(1)
	for i := 0; i < 300; i++ {
		var bnd Bounds
		if r.IntN(4) > 0 {
			bnd.Start = g.key()
		}
		if r.IntN(4) > 0 {
			bnd.End = g.key()
		}
		verifyRange(t, rd, m, 1, bnd, r.IntN(2) == 0)
		// Seek and SeekLT land on the model's neighbours.
		k := g.key()
		c, _ := rd.Cursor(1, Bounds{})
		j, _ := slices.BinarySearch(keys, string(k))
		if ok := c.Seek(k); ok != (j < len(keys)) || ok && string(c.Key()) != keys[j] {
			t.Fatalf("Seek(%q) = %v %q, want index %d", short(string(k)), ok, short(string(c.Key())), j)
		}
		if ok := c.SeekLT(k); ok != (j > 0) || ok && string(c.Key()) != keys[j-1] {
			t.Fatalf("SeekLT(%q) = %v %q, want index %d", short(string(k)), ok, short(string(c.Key())), j-1)
		}
	}
}
