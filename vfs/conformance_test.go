package vfs_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sopd/sop/vfs"
)

// newFS returns a fresh FS and an existing directory in it to work under.
type newFS func(t *testing.T) (vfs.FS, string)

func newMem(t *testing.T) (vfs.FS, string) {
	m := vfs.NewMem()
	must(t, m.MkdirAll("/tmp/data", 0o755))
	return m, "/tmp/data"
}

func newOS(t *testing.T) (vfs.FS, string) { return vfs.Default, t.TempDir() }

// passthrough wraps an FS with an injector that never fires.
func passthrough(inner newFS) newFS {
	return func(t *testing.T) (vfs.FS, string) {
		fsys, dir := inner(t)
		return vfs.WithInjector(fsys, vfs.NewToggle()), dir
	}
}

// retrying wraps an FS with WithRetry. Nothing in the suite fails transiently,
// so a wait means an error was misclassified.
func retrying(inner newFS) newFS {
	return func(t *testing.T) (vfs.FS, string) {
		fsys, dir := inner(t)
		sleep := func(d time.Duration) { t.Errorf("WithRetry waited %v", d) }
		return vfs.WithRetry(fsys, vfs.RetryOptions{Sleep: sleep}), dir
	}
}

// TestConformance runs one suite against every FS implementation.
func TestConformance(t *testing.T) {
	impls := []struct {
		name string
		new  newFS
	}{
		{"os", newOS},
		{"mem", newMem},
		{"inject-os", passthrough(newOS)},
		{"inject-mem", passthrough(newMem)},
		{"retry-os", retrying(newOS)},
		{"retry-mem", retrying(newMem)},
	}
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) { runConformance(t, impl.new) })
	}
}

func runConformance(t *testing.T, newFS newFS) {
	cases := []struct {
		name string
		fn   func(t *testing.T, fsys vfs.FS, dir string)
	}{
		{"CreateTruncates", testCreateTruncates},
		{"OpenReadWriteKeeps", testOpenReadWriteKeeps},
		{"Missing", testMissing},
		{"ReadWriteOffset", testReadWriteOffset},
		{"ReadAtEOF", testReadAtEOF},
		{"WriteAtGap", testWriteAtGap},
		{"Truncate", testTruncate},
		{"Sync", testSync},
		{"ReadOnly", testReadOnly},
		{"Closed", testClosed},
		{"Remove", testRemove},
		{"Rename", testRename},
		{"MkdirAll", testMkdirAll},
		{"ListStat", testListStat},
		{"SyncDir", testSyncDir},
		{"ConcurrentAt", testConcurrentAt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fsys, dir := newFS(t)
			c.fn(t, fsys, dir)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// writeFile creates name holding data and closes it.
func writeFile(t *testing.T, fsys vfs.FS, name, data string) {
	t.Helper()
	f, err := fsys.Create(name)
	must(t, err)
	_, err = f.Write([]byte(data))
	must(t, err)
	must(t, f.Close())
}

// readFile returns the contents of name.
func readFile(t *testing.T, fsys vfs.FS, name string) string {
	t.Helper()
	f, err := fsys.Open(name)
	must(t, err)
	defer f.Close()
	b, err := io.ReadAll(f)
	must(t, err)
	return string(b)
}

func wantSize(t *testing.T, f vfs.File, want int64) {
	t.Helper()
	got, err := f.Size()
	must(t, err)
	if got != want {
		t.Fatalf("Size = %d, want %d", got, want)
	}
}

func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want errors.Is %v", err, target)
	}
}

func testCreateTruncates(t *testing.T, fsys vfs.FS, dir string) {
	name := filepath.Join(dir, "f")
	writeFile(t, fsys, name, "hello")
	f, err := fsys.Create(name)
	must(t, err)
	defer f.Close()
	wantSize(t, f, 0)
}

func testOpenReadWriteKeeps(t *testing.T, fsys vfs.FS, dir string) {
	name := filepath.Join(dir, "f")
	writeFile(t, fsys, name, "hello")
	f, err := fsys.OpenReadWrite(name)
	must(t, err)
	wantSize(t, f, 5)
	_, err = f.WriteAt([]byte("J"), 0)
	must(t, err)
	must(t, f.Close())
	if got := readFile(t, fsys, name); got != "Jello" {
		t.Fatalf("contents = %q, want Jello", got)
	}
	g, err := fsys.OpenReadWrite(filepath.Join(dir, "new"))
	must(t, err)
	defer g.Close()
	wantSize(t, g, 0)
}

func testMissing(t *testing.T, fsys vfs.FS, dir string) {
	name := filepath.Join(dir, "missing")
	_, err := fsys.Open(name)
	wantIs(t, err, fs.ErrNotExist)
	_, err = fsys.Stat(name)
	wantIs(t, err, fs.ErrNotExist)
	_, err = fsys.Create(filepath.Join(name, "f"))
	wantIs(t, err, fs.ErrNotExist)
	_, err = fsys.List(name)
	wantIs(t, err, fs.ErrNotExist)
	wantIs(t, fsys.Remove(name), fs.ErrNotExist)
	wantIs(t, fsys.Rename(name, filepath.Join(dir, "x")), fs.ErrNotExist)
	wantIs(t, fsys.SyncDir(name), fs.ErrNotExist)
}

func testReadWriteOffset(t *testing.T, fsys vfs.FS, dir string) {
	f, err := fsys.Create(filepath.Join(dir, "f"))
	must(t, err)
	defer f.Close()
	for _, s := range []string{"ab", "cde"} {
		n, err := f.Write([]byte(s))
		must(t, err)
		if n != len(s) {
			t.Fatalf("Write n = %d, want %d", n, len(s))
		}
	}
	r, err := fsys.Open(filepath.Join(dir, "f"))
	must(t, err)
	defer r.Close()
	buf := make([]byte, 3)
	for _, want := range []string{"abc", "de"} {
		n, err := r.Read(buf)
		must(t, err)
		if got := string(buf[:n]); got != want {
			t.Fatalf("Read = %q, want %q", got, want)
		}
	}
	if n, err := r.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read at EOF = %d, %v; want 0, io.EOF", n, err)
	}
}

func testReadAtEOF(t *testing.T, fsys vfs.FS, dir string) {
	writeFile(t, fsys, filepath.Join(dir, "f"), "hello")
	f, err := fsys.Open(filepath.Join(dir, "f"))
	must(t, err)
	defer f.Close()
	cases := []struct {
		off     int64
		size    int
		want    string
		wantErr error
	}{
		{0, 5, "hello", nil},
		{1, 3, "ell", nil},
		{3, 4, "lo", io.EOF},
		{5, 1, "", io.EOF},
		{9, 1, "", io.EOF},
		{9, 0, "", nil},
	}
	for _, c := range cases {
		buf := make([]byte, c.size)
		n, err := f.ReadAt(buf, c.off)
		if string(buf[:n]) != c.want || err != c.wantErr {
			t.Errorf("ReadAt(%d bytes, %d) = %q, %v; want %q, %v",
				c.size, c.off, buf[:n], err, c.want, c.wantErr)
		}
	}
}

func testWriteAtGap(t *testing.T, fsys vfs.FS, dir string) {
	f, err := fsys.Create(filepath.Join(dir, "f"))
	must(t, err)
	defer f.Close()
	_, err = f.WriteAt([]byte("xy"), 4)
	must(t, err)
	_, err = f.WriteAt(nil, 100)
	must(t, err)
	wantSize(t, f, 6)
	buf := make([]byte, 6)
	_, err = f.ReadAt(buf, 0)
	must(t, err)
	if want := []byte("\x00\x00\x00\x00xy"); !bytes.Equal(buf, want) {
		t.Fatalf("contents = %q, want %q", buf, want)
	}
}

func testTruncate(t *testing.T, fsys vfs.FS, dir string) {
	f, err := fsys.Create(filepath.Join(dir, "f"))
	must(t, err)
	defer f.Close()
	_, err = f.Write([]byte("abcdef"))
	must(t, err)
	must(t, f.Truncate(2))
	wantSize(t, f, 2)
	must(t, f.Truncate(4)) // grows with zeros, not the old "cd"
	buf := make([]byte, 4)
	_, err = f.ReadAt(buf, 0)
	must(t, err)
	if want := []byte("ab\x00\x00"); !bytes.Equal(buf, want) {
		t.Fatalf("contents = %q, want %q", buf, want)
	}
	if err := f.Truncate(-1); err == nil {
		t.Fatal("Truncate(-1) succeeded")
	}
}

func testSync(t *testing.T, fsys vfs.FS, dir string) {
	writeFile(t, fsys, filepath.Join(dir, "f"), "data")
	for _, open := range []func(string) (vfs.File, error){fsys.Open, fsys.OpenReadWrite} {
		f, err := open(filepath.Join(dir, "f"))
		must(t, err)
		must(t, f.Sync())
		must(t, f.Close())
	}
}

func testReadOnly(t *testing.T, fsys vfs.FS, dir string) {
	writeFile(t, fsys, filepath.Join(dir, "f"), "data")
	f, err := fsys.Open(filepath.Join(dir, "f"))
	must(t, err)
	defer f.Close()
	if _, err := f.Write([]byte("x")); err == nil {
		t.Error("Write on read-only file succeeded")
	}
	if _, err := f.WriteAt([]byte("x"), 0); err == nil {
		t.Error("WriteAt on read-only file succeeded")
	}
	if err := f.Truncate(0); err == nil {
		t.Error("Truncate on read-only file succeeded")
	}
	if got := readFile(t, fsys, filepath.Join(dir, "f")); got != "data" {
		t.Errorf("contents = %q, want data", got)
	}
}

func testClosed(t *testing.T, fsys vfs.FS, dir string) {
	f, err := fsys.Create(filepath.Join(dir, "f"))
	must(t, err)
	must(t, f.Close())
	buf := make([]byte, 1)
	calls := map[string]func() error{
		"Read":     func() error { _, err := f.Read(buf); return err },
		"ReadAt":   func() error { _, err := f.ReadAt(buf, 0); return err },
		"Write":    func() error { _, err := f.Write(buf); return err },
		"WriteAt":  func() error { _, err := f.WriteAt(buf, 0); return err },
		"Sync":     f.Sync,
		"Truncate": func() error { return f.Truncate(0) },
		"Size":     func() error { _, err := f.Size(); return err },
		"Close":    f.Close,
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, os.ErrClosed) {
			t.Errorf("%s after Close: err = %v, want os.ErrClosed", name, err)
		}
	}
}

func testRemove(t *testing.T, fsys vfs.FS, dir string) {
	name := filepath.Join(dir, "f")
	writeFile(t, fsys, name, "x")
	open, err := fsys.Open(name)
	must(t, err)
	defer open.Close()
	must(t, fsys.Remove(name))
	_, err = fsys.Stat(name)
	wantIs(t, err, fs.ErrNotExist)
	if b, err := io.ReadAll(open); err != nil || string(b) != "x" {
		t.Fatalf("read of removed open file = %q, %v; want x", b, err)
	}
	sub := filepath.Join(dir, "sub")
	must(t, fsys.MkdirAll(sub, 0o755))
	writeFile(t, fsys, filepath.Join(sub, "g"), "")
	if err := fsys.Remove(sub); err == nil {
		t.Fatal("Remove of non-empty directory succeeded")
	}
	must(t, fsys.Remove(filepath.Join(sub, "g")))
	must(t, fsys.Remove(sub))
}

func testRename(t *testing.T, fsys vfs.FS, dir string) {
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	writeFile(t, fsys, src, "new")
	writeFile(t, fsys, dst, "old")
	open, err := fsys.OpenReadWrite(src)
	must(t, err)
	defer open.Close()
	must(t, fsys.Rename(src, dst))
	_, err = fsys.Stat(src)
	wantIs(t, err, fs.ErrNotExist)
	_, err = open.WriteAt([]byte("N"), 0) // the handle follows the file
	must(t, err)
	if got := readFile(t, fsys, dst); got != "New" {
		t.Fatalf("contents = %q, want New", got)
	}
	must(t, fsys.MkdirAll(filepath.Join(dir, "d1"), 0o755))
	must(t, fsys.Rename(dst, filepath.Join(dir, "d1", "moved")))
	must(t, fsys.Rename(filepath.Join(dir, "d1"), filepath.Join(dir, "d2")))
	if got := readFile(t, fsys, filepath.Join(dir, "d2", "moved")); got != "New" {
		t.Fatalf("contents after directory rename = %q, want New", got)
	}
	if err := fsys.Rename(filepath.Join(dir, "d2"), filepath.Join(dir, "d2", "in")); err == nil {
		t.Fatal("renaming a directory below itself succeeded")
	}
}

func testMkdirAll(t *testing.T, fsys vfs.FS, dir string) {
	deep := filepath.Join(dir, "a", "b", "c")
	must(t, fsys.MkdirAll(deep, 0o755))
	must(t, fsys.MkdirAll(deep, 0o755))
	fi, err := fsys.Stat(deep)
	must(t, err)
	if !fi.IsDir() || fi.Name() != "c" {
		t.Fatalf("Stat = %q dir=%v, want c dir=true", fi.Name(), fi.IsDir())
	}
	writeFile(t, fsys, filepath.Join(dir, "file"), "")
	if err := fsys.MkdirAll(filepath.Join(dir, "file", "sub"), 0o755); err == nil {
		t.Fatal("MkdirAll below a file succeeded")
	}
	if err := fsys.MkdirAll(filepath.Join(dir, "file"), 0o755); err == nil {
		t.Fatal("MkdirAll over a file succeeded")
	}
}

func testListStat(t *testing.T, fsys vfs.FS, dir string) {
	names, err := fsys.List(dir)
	must(t, err)
	if len(names) != 0 {
		t.Fatalf("List of empty dir = %q", names)
	}
	for _, n := range []string{"b", "c", "a"} {
		writeFile(t, fsys, filepath.Join(dir, n), n+n)
	}
	must(t, fsys.MkdirAll(filepath.Join(dir, "d"), 0o755))
	names, err = fsys.List(dir)
	must(t, err)
	if got, want := filepath.Join(names...), filepath.Join("a", "b", "c", "d"); got != want {
		t.Fatalf("List = %q, want a b c d", names)
	}
	fi, err := fsys.Stat(filepath.Join(dir, "b"))
	must(t, err)
	if fi.Name() != "b" || fi.Size() != 2 || fi.IsDir() || !fi.Mode().IsRegular() {
		t.Fatalf("Stat = %q size %d mode %v", fi.Name(), fi.Size(), fi.Mode())
	}
	if _, err := fsys.List(filepath.Join(dir, "b")); err == nil {
		t.Fatal("List of a file succeeded")
	}
}

func testSyncDir(t *testing.T, fsys vfs.FS, dir string) {
	writeFile(t, fsys, filepath.Join(dir, "f"), "x")
	must(t, fsys.SyncDir(dir))
	must(t, fsys.SyncDir(filepath.Dir(dir)))
}

// testConcurrentAt writes and reads disjoint blocks from many goroutines; run it with
// -race.
func testConcurrentAt(t *testing.T, fsys vfs.FS, dir string) {
	const workers, block = 8, 64
	f, err := fsys.Create(filepath.Join(dir, "f"))
	must(t, err)
	defer f.Close()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() { errs <- writeReadBlock(f, int64(w*block), bytes.Repeat([]byte{byte('a' + w)}, block)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	wantSize(t, f, workers*block)
}

func writeReadBlock(f vfs.File, off int64, p []byte) error {
	for range 20 {
		if _, err := f.WriteAt(p, off); err != nil {
			return err
		}
		got := make([]byte, len(p))
		if _, err := f.ReadAt(got, off); err != nil {
			return err
		}
		if !bytes.Equal(got, p) {
			return errors.New("read back a different block")
		}
	}
	return nil
}
