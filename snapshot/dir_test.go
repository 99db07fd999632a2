package snapshot_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/sopd/sop/snapshot"
	"github.com/sopd/sop/snapshot/snapshottest"
	"github.com/sopd/sop/vfs"
)

func TestDirConformance(t *testing.T) {
	snapshottest.Run(t, func(t *testing.T) snapshot.Store {
		d, err := snapshot.NewDir(filepath.Join(t.TempDir(), "snapshots"))
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

var ctx = context.Background()

func newDir(t *testing.T) (*snapshot.Dir, string) {
	path := filepath.Join(t.TempDir(), "snapshots")
	d, err := snapshot.NewDir(path)
	if err != nil {
		t.Fatal(err)
	}
	return d, path
}

func TestDirLayout(t *testing.T) {
	d, path := newDir(t)
	m := snapshot.Meta{ID: snapshot.NewID(42, 7), Domain: "shop", Seq: 42}
	got, err := d.Put(ctx, m, bytes.NewReader([]byte("hello")))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(path, "shop", m.ID+".snap")
	b, err := os.ReadFile(file)
	if err != nil || string(b) != "hello" {
		t.Fatalf("%s: %q, %v", file, b, err)
	}
	fi, _ := os.Stat(file)
	if got.Bytes != 5 || !got.Created.Equal(fi.ModTime()) {
		t.Errorf("Put returned %+v, the file has %d bytes, modified %v", got, fi.Size(), fi.ModTime())
	}
	// Files that are not snapshots are not listed.
	for _, name := range []string{"notes.txt", "x.snap", "." + m.ID + ".0badc0de.tmp", snapshot.NewID(1, 1) + ".snap.tmp", "99999999999999999999-00000000.snap"} {
		if err := os.WriteFile(filepath.Join(path, "shop", name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(path, "shop", snapshot.NewID(2, 2)+".dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	metas, err := d.List(ctx, "shop")
	if err != nil || len(metas) != 1 || metas[0].ID != m.ID {
		t.Fatalf("List: %+v, %v", metas, err)
	}
}

func TestDirSeqMustMatchID(t *testing.T) {
	d, _ := newDir(t)
	_, err := d.Put(ctx, snapshot.Meta{ID: snapshot.NewID(42, 7), Domain: "shop", Seq: 41}, bytes.NewReader(nil))
	if !errors.Is(err, snapshot.ErrBadID) {
		t.Fatalf("Put with a Seq its ID does not name: %v", err)
	}
	// 20 digits can name more than a uint64 holds.
	_, err = d.Put(ctx, snapshot.Meta{ID: "99999999999999999999-00000000", Domain: "shop"}, bytes.NewReader(nil))
	if !errors.Is(err, snapshot.ErrBadID) {
		t.Fatalf("Put of an ID beyond uint64: %v", err)
	}
}

// A Put removes temporary files not modified for an hour, and leaves
// fresher ones (perhaps a running Put's) alone.
func TestDirStaleTemps(t *testing.T) {
	d, path := newDir(t)
	dir := filepath.Join(path, "shop")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "."+snapshot.NewID(1, 1)+".00000001.tmp")
	fresh := filepath.Join(dir, "."+snapshot.NewID(2, 1)+".00000002.tmp")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if metas, err := d.List(ctx, "shop"); err != nil || len(metas) != 0 {
		t.Fatalf("List sees temporary files: %+v, %v", metas, err)
	}
	if _, err := d.Put(ctx, snapshot.Meta{ID: snapshot.NewID(3, 1), Domain: "shop", Seq: 3}, bytes.NewReader([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file: %v, want removed", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary file: %v, want kept", err)
	}
}

// A crash at any moment of a Put leaves either nothing or the whole
// snapshot; once Put returned, the snapshot survives a crash.
func TestDirCrash(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	data := bytes.Repeat([]byte("snapshot bytes "), 100000)
	m := snapshot.Meta{ID: snapshot.NewID(9, 9), Domain: "shop", Seq: 9}

	mem := vfs.NewMem()
	var crashes []*vfs.MemFS
	fs := vfs.WithInjector(mem, vfs.InjectorFunc(func(vfs.Op, string) error {
		crashes = append(crashes, mem.Crash(), mem.CrashRandom(rng), mem.CrashRandom(rng))
		return nil
	}))
	d, err := snapshot.NewDirFS(fs, "/snaps")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Put(ctx, m, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	crashes = append(crashes, mem.Crash())
	for i, c := range crashes {
		d, err := snapshot.NewDirFS(c, "/snaps")
		if err != nil {
			t.Fatal(err)
		}
		metas, err := d.List(ctx, "shop")
		if err != nil {
			t.Fatalf("crash %d: List: %v", i, err)
		}
		if len(metas) == 0 {
			if i == len(crashes)-1 {
				t.Fatal("a crash after Put returned lost the snapshot")
			}
			continue
		}
		rc, _, err := d.Open(ctx, "shop", m.ID)
		if err != nil {
			t.Fatalf("crash %d: Open: %v", i, err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(b, data) {
			t.Fatalf("crash %d: a listed snapshot has %d of %d bytes", i, len(b), len(data))
		}
		// A Put after the crash works.
		if _, err := d.Put(ctx, snapshot.Meta{ID: snapshot.NewID(10, 1), Domain: "shop", Seq: 10}, bytes.NewReader(data)); err != nil {
			t.Fatalf("crash %d: Put: %v", i, err)
		}
	}
}

// A Put that meets an I/O error at any step fails and leaves nothing
// visible, or succeeds whole.
func TestDirIOErrors(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 300000)
	m := snapshot.Meta{ID: snapshot.NewID(9, 9), Domain: "shop", Seq: 9}
	for _, op := range []vfs.Op{vfs.OpCreate, vfs.OpWrite, vfs.OpSync, vfs.OpClose, vfs.OpRename, vfs.OpMkdir, vfs.OpSyncDir, vfs.OpStat, vfs.OpList, vfs.OpRemove} {
		for n := 1; ; n++ {
			mem := vfs.NewMem()
			inj := vfs.OnNth(op, n, syscall.EIO)
			d, err := snapshot.NewDirFS(vfs.WithInjector(mem, inj), "/snaps")
			if err != nil {
				continue // NewDirFS met the error
			}
			_, err = d.Put(ctx, m, bytes.NewReader(data))
			if !inj.Fired() {
				if err != nil {
					t.Fatalf("%v: Put failed with no error injected: %v", op, err)
				}
				break
			}
			clean, _ := snapshot.NewDirFS(mem, "/snaps")
			metas, lerr := clean.List(ctx, "shop")
			if lerr != nil {
				t.Fatal(lerr)
			}
			switch {
			case err != nil && len(metas) != 0:
				t.Errorf("%v #%d failed Put (%v) left %v", op, n, err, metas)
			case err == nil && !slices.ContainsFunc(metas, func(x snapshot.Meta) bool { return x.ID == m.ID }):
				t.Errorf("%v #%d: Put succeeded but List shows %v", op, n, metas)
			}
		}
	}
}
