package vfs_test

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/sopd/sop/vfs"
)

func TestOnNthFailsOnlyTheNth(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EIO, syscall.ENOSPC} {
		t.Run(errno.Error(), func(t *testing.T) {
			inj := vfs.OnNth(vfs.OpWrite, 3, errno)
			fsys := vfs.WithInjector(vfs.NewMem(), inj)
			f, err := fsys.Create("/f")
			must(t, err)
			for i := 1; i <= 5; i++ {
				_, err := f.WriteAt([]byte{byte(i)}, int64(i))
				if (err != nil) != (i == 3) {
					t.Fatalf("write %d: err = %v", i, err)
				}
				if i == 3 {
					wantInjected(t, err, errno, "write", "/f")
				}
			}
			if inj.Count() != 5 || !inj.Fired() {
				t.Fatalf("Count = %d, Fired = %v; want 5, true", inj.Count(), inj.Fired())
			}
			wantSize(t, f, 6) // writes 1,2,4,5 landed; 3 did not
		})
	}
}

func wantInjected(t *testing.T, err error, errno syscall.Errno, op, path string) {
	t.Helper()
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Op != op || pe.Path != path || !errors.Is(err, errno) {
		t.Fatalf("err = %#v, want *os.PathError{%s %s %v}", err, op, path, errno)
	}
}

func TestOnNthConcurrent(t *testing.T) {
	inj := vfs.OnNth(vfs.OpWrite, 50, syscall.EIO)
	f, err := vfs.WithInjector(vfs.NewMem(), inj).Create("/f")
	must(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := 0
	for i := range 100 {
		wg.Go(func() {
			if _, err := f.WriteAt([]byte{1}, int64(i)); err != nil {
				mu.Lock()
				failures++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failures != 1 || inj.Count() != 100 {
		t.Fatalf("failures = %d, Count = %d; want 1, 100", failures, inj.Count())
	}
}

func TestOnNthIgnoresOtherOps(t *testing.T) {
	inj := vfs.OnNth(vfs.OpSync, 1, syscall.EIO)
	fsys := vfs.WithInjector(vfs.NewMem(), inj)
	f, err := fsys.Create("/f")
	must(t, err)
	_, err = f.Write([]byte("x"))
	must(t, err)
	if inj.Count() != 0 || inj.Fired() {
		t.Fatalf("Count = %d after no syncs", inj.Count())
	}
	wantInjected(t, f.Sync(), syscall.EIO, "sync", "/f")
	must(t, f.Sync())
}

func TestOnPath(t *testing.T) {
	fsys := vfs.WithInjector(vfs.NewMem(), vfs.OnPath(vfs.OpCreate, "snap", syscall.ENOSPC))
	_, err := fsys.Create("/snap-0001.tmp")
	wantInjected(t, err, syscall.ENOSPC, "create", "/snap-0001.tmp")
	f, err := fsys.Create("/pages")
	must(t, err)
	must(t, f.Close())
	f, err = fsys.OpenReadWrite("/snap-0001.tmp") // another op kind proceeds
	must(t, err)
	must(t, f.Close())
}

func TestToggle(t *testing.T) {
	tog := vfs.NewToggle(vfs.OpSync, vfs.OpSyncDir)
	fsys := vfs.WithInjector(vfs.NewMem(), tog)
	f, err := fsys.Create("/f")
	must(t, err)
	must(t, f.Sync())
	tog.Enable(syscall.EIO)
	_, err = f.Write([]byte("x"))
	must(t, err)
	wantInjected(t, f.Sync(), syscall.EIO, "sync", "/f")
	wantInjected(t, fsys.SyncDir("/"), syscall.EIO, "syncdir", "/")
	tog.Disable()
	must(t, f.Sync())
	must(t, fsys.SyncDir("/"))
	if tog.Hits() != 2 {
		t.Fatalf("Hits = %d, want 2", tog.Hits())
	}
}

func TestZeroToggleChoosesAll(t *testing.T) {
	var tog vfs.Toggle
	fsys := vfs.WithInjector(vfs.NewMem(), &tog)
	must(t, fsys.MkdirAll("/d", 0o755))
	tog.Enable(syscall.EIO)
	if _, err := fsys.List("/d"); !errors.Is(err, syscall.EIO) {
		t.Fatalf("List err = %v, want EIO", err)
	}
}

// TestEveryMethodAsksItsOp fails one Op kind at a time and checks that exactly the
// methods documented for it fail, with the file's name as path.
func TestEveryMethodAsksItsOp(t *testing.T) {
	want := map[vfs.Op][]string{
		vfs.OpCreate: {"Create"}, vfs.OpOpen: {"Open", "OpenReadWrite"},
		vfs.OpRead: {"Read", "ReadAt"}, vfs.OpWrite: {"Write", "WriteAt"},
		vfs.OpSync: {"Sync"}, vfs.OpTruncate: {"Truncate"}, vfs.OpRemove: {"Remove"},
		vfs.OpRename: {"Rename"}, vfs.OpMkdir: {"MkdirAll"}, vfs.OpStat: {"Stat", "Size"},
		vfs.OpList: {"List"}, vfs.OpSyncDir: {"SyncDir"}, vfs.OpClose: {"Close"},
	}
	for op, methods := range want {
		t.Run(op.String(), func(t *testing.T) {
			failed := callAll(t, op)
			if len(failed) != len(methods) {
				t.Fatalf("failed %v, want %v", failed, methods)
			}
			for _, m := range methods {
				if !failed[m] {
					t.Fatalf("failed %v, want %v", failed, methods)
				}
			}
		})
	}
}

// callAll calls every FS and File method once, through an injector that fails
// operations of kind op with EIO, and returns the methods that failed.
func callAll(t *testing.T, op vfs.Op) map[string]bool {
	mem := vfs.NewMem()
	must(t, mem.MkdirAll("/d", 0o755))
	writeFile(t, mem, "/d/f", "data")
	writeFile(t, mem, "/d/x", "")
	tog := vfs.NewToggle(op)
	fsys := vfs.WithInjector(mem, tog)
	h, err := fsys.OpenReadWrite("/d/f")
	must(t, err)
	tog.Enable(syscall.EIO)
	buf := make([]byte, 1)
	calls := []struct {
		name, path string
		call       func() error
	}{
		{"Create", "/d/c", func() error { _, err := fsys.Create("/d/c"); return err }},
		{"Open", "/d/f", func() error { _, err := fsys.Open("/d/f"); return err }},
		{"OpenReadWrite", "/d/f", func() error { _, err := fsys.OpenReadWrite("/d/f"); return err }},
		{"Read", "/d/f", func() error { _, err := h.Read(buf); return err }},
		{"ReadAt", "/d/f", func() error { _, err := h.ReadAt(buf, 0); return err }},
		{"Write", "/d/f", func() error { _, err := h.Write(buf); return err }},
		{"WriteAt", "/d/f", func() error { _, err := h.WriteAt(buf, 0); return err }},
		{"Sync", "/d/f", h.Sync},
		{"Truncate", "/d/f", func() error { return h.Truncate(1) }},
		{"Size", "/d/f", func() error { _, err := h.Size(); return err }},
		{"Stat", "/d/f", func() error { _, err := fsys.Stat("/d/f"); return err }},
		{"List", "/d", func() error { _, err := fsys.List("/d"); return err }},
		{"SyncDir", "/d", func() error { return fsys.SyncDir("/d") }},
		{"MkdirAll", "/d/sub", func() error { return fsys.MkdirAll("/d/sub", 0o755) }},
		{"Rename", "/d/f", func() error { return fsys.Rename("/d/f", "/d/r") }},
		{"Remove", "/d/x", func() error { return fsys.Remove("/d/x") }},
		{"Close", "/d/f", h.Close},
	}
	failed := map[string]bool{}
	for _, c := range calls {
		if err := c.call(); err != nil {
			wantInjected(t, err, syscall.EIO, op.String(), c.path)
			failed[c.name] = true
		}
	}
	return failed
}

func TestInjectedCloseStillCloses(t *testing.T) {
	fsys := vfs.WithInjector(vfs.NewMem(), vfs.OnNth(vfs.OpClose, 1, syscall.EIO))
	f, err := fsys.Create("/f")
	must(t, err)
	wantInjected(t, f.Close(), syscall.EIO, "close", "/f")
	if _, err := f.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Write after failed Close: err = %v, want os.ErrClosed", err)
	}
}

func TestInjectorKeepsPathError(t *testing.T) {
	own := &os.PathError{Op: "custom", Path: "p", Err: syscall.EIO}
	fsys := vfs.WithInjector(vfs.NewMem(), vfs.InjectorFunc(func(vfs.Op, string) error { return own }))
	if err := fsys.SyncDir("/"); err != own {
		t.Fatalf("err = %v, want the injector's own *os.PathError", err)
	}
}

func TestOpString(t *testing.T) {
	if got := vfs.OpSyncDir.String(); got != "syncdir" {
		t.Errorf("OpSyncDir = %q", got)
	}
	if got := vfs.Op(200).String(); got != "Op(200)" {
		t.Errorf("Op(200) = %q", got)
	}
}
