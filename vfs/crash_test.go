package vfs_test

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sopd/sop/vfs"
)

// seed returns the seed for a randomized test, from SOP_SEED when set, and logs it so
// a failure can be replayed.
func seed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if env := os.Getenv("SOP_SEED"); env != "" {
		var err error
		if s, err = strconv.ParseUint(env, 10, 64); err != nil {
			t.Fatalf("SOP_SEED: %v", err)
		}
	}
	t.Logf("seed %d (replay with SOP_SEED=%d)", s, s)
	return s
}

// durableDir returns a MemFS holding the directory /d, made durable.
func durableDir(t *testing.T) *vfs.MemFS {
	m := vfs.NewMem()
	must(t, m.MkdirAll("/d", 0o755))
	must(t, m.SyncDir("/"))
	return m
}

// syncedFile creates name holding data, synced, with its entry made durable.
func syncedFile(t *testing.T, m *vfs.MemFS, name, data string) vfs.File {
	f, err := m.Create(name)
	must(t, err)
	_, err = f.Write([]byte(data))
	must(t, err)
	must(t, f.Sync())
	must(t, m.SyncDir("/d"))
	return f
}

func wantContents(t *testing.T, fsys vfs.FS, name, want string) {
	t.Helper()
	if got := readFile(t, fsys, name); got != want {
		t.Fatalf("%s = %q, want %q", name, got, want)
	}
}

func wantMissing(t *testing.T, fsys vfs.FS, name string) {
	t.Helper()
	if _, err := fsys.Stat(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat(%s) err = %v, want fs.ErrNotExist", name, err)
	}
}

func TestCrashKeepsSyncedData(t *testing.T) {
	m := durableDir(t)
	f := syncedFile(t, m, "/d/f", "synced")
	_, err := f.WriteAt([]byte("UNSYNCED-AND-LONGER"), 0)
	must(t, err)
	wantContents(t, m.Crash(), "/d/f", "synced")
	must(t, f.Truncate(2))
	must(t, f.Sync())
	_, err = f.Write([]byte("lost"))
	must(t, err)
	wantContents(t, m.Crash(), "/d/f", "UN")
}

func TestCrashUnsyncedFileIsEmpty(t *testing.T) {
	m := durableDir(t)
	f, err := m.Create("/d/f")
	must(t, err)
	_, err = f.Write([]byte("never synced"))
	must(t, err)
	must(t, m.SyncDir("/d"))
	wantContents(t, m.Crash(), "/d/f", "")
}

func TestCrashCreateNeedsSyncDir(t *testing.T) {
	m := durableDir(t)
	f, err := m.Create("/d/f")
	must(t, err)
	_, err = f.Write([]byte("data"))
	must(t, err)
	must(t, f.Sync())
	wantMissing(t, m.Crash(), "/d/f")
}

func TestCrashMkdirNeedsParentSync(t *testing.T) {
	m := vfs.NewMem()
	must(t, m.MkdirAll("/a/b", 0o755))
	must(t, m.SyncDir("/a"))
	wantMissing(t, m.Crash(), "/a")
	must(t, m.SyncDir("/"))
	c := m.Crash()
	if fi, err := c.Stat("/a/b"); err != nil || !fi.IsDir() {
		t.Fatalf("Stat(/a/b) after both syncs = %v, %v; want a directory", fi, err)
	}
}

func TestCrashRevertsRenameAndRemove(t *testing.T) {
	m := durableDir(t)
	syncedFile(t, m, "/d/tmp", "v2")
	syncedFile(t, m, "/d/final", "v1")
	syncedFile(t, m, "/d/old", "old")
	must(t, m.Rename("/d/tmp", "/d/final"))
	must(t, m.Remove("/d/old"))
	c := m.Crash()
	wantContents(t, c, "/d/tmp", "v2")
	wantContents(t, c, "/d/final", "v1")
	wantContents(t, c, "/d/old", "old")
	must(t, m.SyncDir("/d"))
	c = m.Crash()
	wantMissing(t, c, "/d/tmp")
	wantMissing(t, c, "/d/old")
	wantContents(t, c, "/d/final", "v2")
}

func TestCrashRenameAcrossDirsIsPerDirectory(t *testing.T) {
	m := durableDir(t)
	must(t, m.MkdirAll("/e", 0o755))
	must(t, m.SyncDir("/"))
	syncedFile(t, m, "/d/f", "x")
	must(t, m.Rename("/d/f", "/e/f"))
	must(t, m.SyncDir("/e"))
	c := m.Crash() // /d not synced: the file is under both names, one inode
	wantContents(t, c, "/d/f", "x")
	g, err := c.OpenReadWrite("/e/f")
	must(t, err)
	_, err = g.WriteAt([]byte("y"), 0)
	must(t, err)
	wantContents(t, c, "/d/f", "y")
}

func TestCrashLeavesOriginalUsable(t *testing.T) {
	m := durableDir(t)
	f := syncedFile(t, m, "/d/f", "a")
	_, err := f.WriteAt([]byte("b"), 0)
	must(t, err)
	c := m.Crash()
	_, err = f.WriteAt([]byte("c"), 1)
	must(t, err)
	wantContents(t, m, "/d/f", "bc")
	wantContents(t, c, "/d/f", "a")
	g, err := c.OpenReadWrite("/d/f")
	must(t, err)
	_, err = g.WriteAt([]byte("z"), 0)
	must(t, err)
	wantContents(t, m, "/d/f", "bc")
}

// TestCrashRandomWritesAreSubsets checks that every CrashRandom outcome of a file is
// its synced contents with some subset of the unsynced writes applied in order, and
// that both extremes occur.
func TestCrashRandomWritesAreSubsets(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 0))
	m := durableDir(t)
	f := syncedFile(t, m, "/d/f", "0123456789")
	ops := randomOps(rng, 8)
	for _, op := range ops {
		op.do(t, f)
	}
	// Each extreme has probability 1/256 per crash, so 5000 crashes miss one with
	// probability below 1e-8.
	const crashes = 5000
	outcomes := map[string]bool{}
	for range crashes {
		got := readFile(t, m.CrashRandom(rng), "/d/f")
		if outcomes[got] {
			continue
		}
		if !isSubsetOutcome("0123456789", ops, got) {
			t.Fatalf("crash left %q, not the base with a subset of %v applied", got, ops)
		}
		outcomes[got] = true
	}
	for _, want := range []string{"0123456789", applyOps("0123456789", ops)} {
		if !outcomes[want] {
			t.Errorf("outcome %q never occurred in %d crashes", want, crashes)
		}
	}
}

// fileOp is a WriteAt of data at off, or a Truncate to off when data is empty.
type fileOp struct {
	off  int64
	data string
}

func randomOps(rng *rand.Rand, n int) []fileOp {
	ops := make([]fileOp, n)
	for i := range ops {
		ops[i].off = rng.Int64N(14)
		if rng.IntN(4) > 0 {
			ops[i].data = string(rune('a'+i)) + string(rune('A'+i))
		}
	}
	return ops
}

func (op fileOp) do(t *testing.T, f vfs.File) {
	if op.data == "" {
		must(t, f.Truncate(op.off))
		return
	}
	_, err := f.WriteAt([]byte(op.data), op.off)
	must(t, err)
}

func (op fileOp) apply(b []byte) []byte {
	if op.data == "" {
		if int(op.off) <= len(b) {
			return b[:op.off]
		}
		return append(b, make([]byte, int(op.off)-len(b))...)
	}
	if end := int(op.off) + len(op.data); end > len(b) {
		b = append(b, make([]byte, end-len(b))...)
	}
	copy(b[op.off:], op.data)
	return b
}

func applyOps(base string, ops []fileOp) string {
	b := []byte(base)
	for _, op := range ops {
		b = op.apply(b)
	}
	return string(b)
}

// isSubsetOutcome reports whether got is base with some subset of ops applied in order.
func isSubsetOutcome(base string, ops []fileOp, got string) bool {
	for mask := 0; mask < 1<<len(ops); mask++ {
		var kept []fileOp
		for i, op := range ops {
			if mask&(1<<i) != 0 {
				kept = append(kept, op)
			}
		}
		if applyOps(base, kept) == got {
			return true
		}
	}
	return false
}

// TestCrashRandomEntriesArePrefixes checks that unsynced directory changes survive as
// a prefix, that a rename within a directory is atomic, and that both extremes occur.
func TestCrashRandomEntriesArePrefixes(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 0))
	m := durableDir(t)
	syncedFile(t, m, "/d/tmp", "t")
	names := []string{"/d/f0", "/d/f1", "/d/f2", "/d/f3"}
	for _, n := range names {
		f, err := m.Create(n)
		must(t, err)
		must(t, f.Close())
	}
	must(t, m.Rename("/d/tmp", "/d/final"))
	seen := map[int]bool{}
	for range 200 {
		c := m.CrashRandom(rng)
		k := survivingPrefix(t, c, names)
		renamed := exists(t, c, "/d/final")
		if exists(t, c, "/d/tmp") == renamed {
			t.Fatalf("rename not atomic: tmp and final both %v", renamed)
		}
		if renamed && k < len(names) {
			t.Fatalf("rename survived without the creates before it (%d of %d)", k, len(names))
		}
		seen[k] = true
	}
	if !seen[0] || !seen[len(names)] {
		t.Errorf("surviving prefix lengths %v lack 0 or %d", seen, len(names))
	}
}

// survivingPrefix returns how many of names exist, failing unless they form a prefix.
func survivingPrefix(t *testing.T, fsys vfs.FS, names []string) int {
	t.Helper()
	k := 0
	for k < len(names) && exists(t, fsys, names[k]) {
		k++
	}
	for _, n := range names[k:] {
		if exists(t, fsys, n) {
			t.Fatalf("%s survived but %s did not", n, names[k])
		}
	}
	return k
}

func exists(t *testing.T, fsys vfs.FS, name string) bool {
	t.Helper()
	_, err := fsys.Stat(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func TestCrashRandomIsDeterministic(t *testing.T) {
	s := seed(t)
	m := durableDir(t)
	f := syncedFile(t, m, "/d/f", "base")
	for i := range 32 {
		_, err := f.WriteAt([]byte{byte('a' + i%26)}, int64(i))
		must(t, err)
		g, err := m.Create("/d/n" + strconv.Itoa(i))
		must(t, err)
		must(t, g.Close())
	}
	snapshot := func(c *vfs.MemFS) string {
		names, err := c.List("/d")
		must(t, err)
		return readFile(t, c, "/d/f") + "|" + strconv.Itoa(len(names))
	}
	a := snapshot(m.CrashRandom(rand.New(rand.NewPCG(s, 1))))
	b := snapshot(m.CrashRandom(rand.New(rand.NewPCG(s, 1))))
	if a != b {
		t.Fatalf("same seed gave %q and %q", a, b)
	}
}

func TestCrashRandomWithNothingPendingIsCrash(t *testing.T) {
	m := durableDir(t)
	must(t, syncedFile(t, m, "/d/f", "x").Close())
	rng := rand.New(rand.NewPCG(seed(t), 0))
	wantContents(t, m.CrashRandom(rng), "/d/f", "x")
	wantContents(t, m.Crash(), "/d/f", "x")
}
