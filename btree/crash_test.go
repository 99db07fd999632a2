package btree

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/sopd/sop/vfs"
)

// TestCrash runs random batches with flushes, spills and injected I/O
// failures, crashes the file system at random moments (dropping all, or a
// random subset of, unsynced writes), reopens from the last saved checkpoint
// and checks that exactly the saved state is there. The recovered forest
// then keeps working through further crashes.
func TestCrash(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 1))
	for round := 0; round < 12; round++ {
		crashRound(t, r)
	}
}

func crashRound(t *testing.T, r *rand.Rand) {
	ps := []int{4096, 8192}[r.IntN(2)]
	g := gen{r: r, pageSize: ps}
	mem := newMemFS(t)
	toggle := vfs.NewToggle(vfs.OpWrite, vfs.OpSync)
	opts := Options{PageSize: ps, CacheSize: int64(32 * ps), SpillSize: int64(8 * ps)}
	var saved Checkpoint
	savedModel := model{}
	f := openTest(t, vfs.WithInjector(mem, toggle), saved, opts)
	m := model{}
	for crash := 0; crash < 4; crash++ {
		for i, n := 0, 1+r.IntN(12); i < n; i++ {
			b, err := f.Begin()
			if err != nil {
				t.Fatal(err)
			}
			applyRandom(t, b, g, m)
			if err := b.Commit(); err != nil {
				t.Fatal(err)
			}
			switch r.IntN(4) {
			case 0:
				saved, savedModel = flushOrFail(t, f, toggle, r, m, saved, savedModel)
			}
		}
		// Crash, keeping none or a random part of what was not synced.
		f.stopBackground()
		f.closed.Store(true) // the process died: no Close, no Check
		var after *vfs.MemFS
		if r.IntN(2) == 0 {
			after = mem.Crash()
		} else {
			after = mem.CrashRandom(r)
		}
		mem = after
		toggle = vfs.NewToggle(vfs.OpWrite, vfs.OpSync)
		f = openTest(t, vfs.WithInjector(mem, toggle), saved, opts)
		m = savedModel.clone()
		if err := f.Check(); err != nil {
			t.Fatalf("check after crash %d: %v", crash, err)
		}
		rd, _ := f.NewReader()
		verifyAll(t, rd, m)
		rd.Release()
	}
}

// flushOrFail flushes, sometimes with an injected EIO or ENOSPC. A failed
// flush must leave the saved checkpoint as it was and the forest readable;
// the retry then succeeds.
func flushOrFail(t *testing.T, f *Forest, toggle *vfs.Toggle, r *rand.Rand, m model, saved Checkpoint, savedModel model) (Checkpoint, model) {
	t.Helper()
	save := func(cp Checkpoint) error { saved = cp; return nil }
	if r.IntN(3) == 0 {
		want := []error{syscall.EIO, syscall.ENOSPC}[r.IntN(2)]
		toggle.Enable(want)
		_, err := f.Flush(save)
		toggle.Disable()
		if err != nil && !errors.Is(err, want) {
			t.Fatalf("flush with injected %v returned %v", want, err)
		}
		if err == nil && toggle.Hits() > 0 {
			t.Fatalf("flush hit %d injected failures but succeeded", toggle.Hits())
		}
		rd, _ := f.NewReader()
		verifyAll(t, rd, m)
		rd.Release()
		if err == nil {
			return saved, m.clone()
		}
	}
	if _, err := f.Flush(save); err != nil {
		t.Fatal(err)
	}
	return saved, m.clone()
}

// TestSaveFailureKeepsOldPages checks that pages the durable checkpoint
// references are not reused when saving a newer checkpoint fails.
func TestSaveFailureKeepsOldPages(t *testing.T) {
	mem := newMemFS(t)
	opts := Options{PageSize: 4096}
	f := openTest(t, mem, Checkpoint{}, opts)
	put := func(v string) {
		b, _ := f.Begin()
		if _, ok := b.Tree(1); !ok {
			b.CreateTree(1)
		}
		for i := 0; i < 200; i++ {
			if err := b.Put(1, []byte{byte(i)}, []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		b.Commit()
	}
	put("one")
	var saved Checkpoint
	if _, err := f.Flush(func(cp Checkpoint) error { saved = cp; return nil }); err != nil {
		t.Fatal(err)
	}
	errSave := errors.New("save failed")
	for _, v := range []string{"two", "three", "four"} {
		put(v)
		if _, err := f.Flush(func(Checkpoint) error { return errSave }); !errors.Is(err, errSave) {
			t.Fatalf("flush returned %v, want the save error", err)
		}
	}
	f.stopBackground()
	f.closed.Store(true)
	f = openTest(t, mem.Crash(), saved, opts)
	rd, _ := f.NewReader()
	defer rd.Release()
	for i := 0; i < 200; i++ {
		v, ok, err := rd.Get(1, []byte{byte(i)})
		if err != nil || !ok || string(v) != "one" {
			t.Fatalf("key %d after crash: %q %v %v, want \"one\"", i, v, ok, err)
		}
	}
}

// TestSpillFailure makes the spill inside Commit fail: the batch is still
// published, no further spill is tried, and the next Flush writes the
// pages (reporting the error while it persists).
func TestSpillFailure(t *testing.T) {
	mem := newMemFS(t)
	toggle := vfs.NewToggle(vfs.OpWrite)
	opts := Options{PageSize: 4096, SpillSize: 4 * 4096, RelayoutIdle: -1}
	f := openTest(t, vfs.WithInjector(mem, toggle), Checkpoint{}, opts)
	m := model{1: {}}
	b, _ := f.Begin()
	b.CreateTree(1)
	for i := 0; i < 2000; i++ {
		k := []byte(fmt.Sprintf("key%05d", i))
		b.Put(1, k, k)
		m[1][string(k)] = k
	}
	toggle.Enable(syscall.EIO)
	if err := b.Commit(); err != nil {
		t.Fatalf("commit with a failing spill: %v", err)
	}
	if !f.spillFailed || toggle.Hits() == 0 {
		t.Fatalf("the spill was not attempted (hits %d)", toggle.Hits())
	}
	rd, _ := f.NewReader()
	verifyAll(t, rd, m)
	rd.Release()
	if _, err := f.Flush(func(Checkpoint) error { return nil }); !errors.Is(err, syscall.EIO) {
		t.Fatalf("flush while writes fail: %v", err)
	}
	toggle.Disable()
	var saved Checkpoint
	if _, err := f.Flush(func(cp Checkpoint) error { saved = cp; return nil }); err != nil {
		t.Fatal(err)
	}
	f.Close()
	f = openTest(t, mem.Crash(), saved, opts)
	rd, _ = f.NewReader()
	verifyAll(t, rd, m)
	rd.Release()
}
