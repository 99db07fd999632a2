package btree

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sopd/sop/vfs"
)

// buildSmall writes a flushed forest with one tree of n keys and returns
// the checkpoint.
func buildSmall(t *testing.T, fs vfs.FS, n int) Checkpoint {
	t.Helper()
	f, err := Open("/db/pages", Checkpoint{}, Options{FS: fs, PageSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := f.Begin()
	b.CreateTree(7)
	for i := 0; i < n; i++ {
		if err := b.Put(7, fmt.Appendf(nil, "key%06d", i), []byte(strings.Repeat("v", 50))); err != nil {
			t.Fatal(err)
		}
	}
	b.Commit()
	cp, err := f.Flush(func(Checkpoint) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return cp
}

// damage changes one byte of page id on disk.
func damage(t *testing.T, fs vfs.FS, id PageID, off int) {
	t.Helper()
	file, err := fs.OpenReadWrite("/db/pages")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	b := make([]byte, 1)
	pos := int64(id)*4096 + int64(off)
	file.ReadAt(b, pos)
	b[0] ^= 0x5a
	if _, err := file.WriteAt(b, pos); err != nil {
		t.Fatal(err)
	}
}

// scanAll reads every key and value, returning the first error.
func scanAll(f *Forest) error {
	rd, err := f.NewReader()
	if err != nil {
		return err
	}
	defer rd.Release()
	for _, tr := range rd.Trees() {
		c, _ := rd.Cursor(tr.ID, Bounds{})
		for ok := c.First(); ok; ok = c.Next() {
			if _, err := c.Value(); err != nil {
				return err
			}
		}
		if c.Err() != nil {
			return c.Err()
		}
	}
	return nil
}

func TestCorruptPageIsReported(t *testing.T) {
	for _, off := range []int{0, 5, 9, 17, 100, 4000} {
		mem := newMemFS(t)
		cp := buildSmall(t, mem, 2000)
		victim := cp.Trees[0].Root
		damage(t, mem, victim, off)
		f, err := Open("/db/pages", cp, Options{FS: mem})
		if err != nil {
			t.Fatal(err)
		}
		err = scanAll(f)
		var ce *CorruptError
		if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Page != victim {
			t.Fatalf("byte %d of page %d damaged: scan returned %v, want a CorruptError naming the page", off, victim, err)
		}
		if err := f.Check(); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Check after damage at %d returned %v", off, err)
		}
		f.Close()
	}
}

func TestCorruptLeafFoundByCheck(t *testing.T) {
	mem := newMemFS(t)
	cp := buildSmall(t, mem, 2000)
	f, _ := Open("/db/pages", cp, Options{FS: mem})
	if err := f.Check(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Every page but the root: damage the last one written.
	damage(t, mem, cp.HighWater-1, 3000)
	f, _ = Open("/db/pages", cp, Options{FS: mem})
	defer f.Close()
	if err := f.Check(); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprint("page ", cp.HighWater-1)) {
		t.Fatalf("Check returned %v, want corruption of page %d", err, cp.HighWater-1)
	}
}

func TestBadFileHeader(t *testing.T) {
	mem := newMemFS(t)
	cp := buildSmall(t, mem, 10)
	damage(t, mem, 0, 17) // inside the file magic
	_, err := Open("/db/pages", cp, Options{FS: mem})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "magic") {
		t.Fatalf("open with bad magic returned %v", err)
	}
}

func TestImpossiblePointer(t *testing.T) {
	mem := newMemFS(t)
	cp := buildSmall(t, mem, 10)
	bad := cp
	bad.Trees = []TreeRoot{{ID: 7, Root: cp.HighWater + 10, Count: 10}}
	if _, err := Open("/db/pages", bad, Options{FS: mem}); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("root beyond the high-water mark: %v", err)
	}
	// A root pointing at a free page decodes as a wrong or missing page.
	bad.HighWater = cp.HighWater + 20
	f, err := Open("/db/pages", bad, Options{FS: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := scanAll(f); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("root beyond the file end: %v", err)
	}
}

func TestCheckpointPageSizeMismatch(t *testing.T) {
	mem := newMemFS(t)
	cp := buildSmall(t, mem, 10)
	if _, err := Open("/db/pages", cp, Options{FS: mem, PageSize: 8192}); !errors.Is(err, ErrBadCheckpoint) && !errors.Is(err, ErrBadOptions) {
		t.Fatalf("page size mismatch: %v", err)
	}
	if _, err := Open("/db/other", Checkpoint{}, Options{FS: mem, PageSize: 5000}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("page size 5000: %v", err)
	}
}

// TestCheckpointValidate covers every way Open rejects a checkpoint that
// cannot describe the page file.
func TestCheckpointValidate(t *testing.T) {
	good := Checkpoint{Version: 3, PageSize: 4096, HighWater: 10, Trees: []TreeRoot{{1, 2, 5}, {4, 3, 0}}, Free: []PageID{5, 6}}
	if err := good.validate(4096); err != nil {
		t.Fatalf("a good checkpoint: %v", err)
	}
	for name, mutate := range map[string]func(*Checkpoint){
		"page size":         func(c *Checkpoint) { c.PageSize = 8192 },
		"high water":        func(c *Checkpoint) { c.HighWater = 0 },
		"trees unsorted":    func(c *Checkpoint) { c.Trees = []TreeRoot{{4, 3, 0}, {1, 2, 5}} },
		"tree twice":        func(c *Checkpoint) { c.Trees = []TreeRoot{{1, 2, 5}, {1, 3, 0}} },
		"root is page 0":    func(c *Checkpoint) { c.Trees[0].Root = 0 },
		"root beyond":       func(c *Checkpoint) { c.Trees[0].Root = 10 },
		"free page 0":       func(c *Checkpoint) { c.Free = []PageID{0, 5} },
		"free beyond":       func(c *Checkpoint) { c.Free = []PageID{5, 10} },
		"free unsorted":     func(c *Checkpoint) { c.Free = []PageID{6, 5} },
		"free listed twice": func(c *Checkpoint) { c.Free = []PageID{5, 5} },
	} {
		cp := good
		cp.Trees = append([]TreeRoot(nil), good.Trees...)
		mutate(&cp)
		if err := cp.validate(4096); !errors.Is(err, ErrBadCheckpoint) {
			t.Errorf("%s: validate returned %v, want ErrBadCheckpoint", name, err)
		}
	}
}

// TestTruncatedPageFile opens a file shorter than its header.
func TestTruncatedPageFile(t *testing.T) {
	mem := newMemFS(t)
	f, _ := mem.Create("/db/pages")
	f.Write([]byte("SOP"))
	f.Close()
	_, err := Open("/db/pages", Checkpoint{}, Options{FS: mem})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "shorter than its header") {
		t.Fatalf("open of a 3-byte file: %v", err)
	}
}
