package vfs_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/sopd/sop/vfs"
)

// retryLog records what WithRetry waits for and reports, instead of sleeping.
type retryLog struct {
	waits   []time.Duration
	reports []report
	// clear, when set, is disabled at the clearAt-th wait: the fault clears
	// after clearAt failed tries.
	clear   *vfs.Toggle
	clearAt int
}

type report struct {
	op   vfs.Op
	path string
	err  error
}

// options returns opts with Sleep and OnError recording into l.
func (l *retryLog) options(opts vfs.RetryOptions) vfs.RetryOptions {
	opts.Sleep = func(d time.Duration) {
		l.waits = append(l.waits, d)
		if l.clear != nil && len(l.waits) == l.clearAt {
			l.clear.Disable()
		}
	}
	opts.OnError = func(op vfs.Op, path string, err error) {
		l.reports = append(l.reports, report{op, path, err})
	}
	return opts
}

func (l *retryLog) wantWaits(t *testing.T, want ...time.Duration) {
	t.Helper()
	if !slices.Equal(l.waits, want) {
		t.Fatalf("waits = %v, want %v", l.waits, want)
	}
}

// wantReport checks that OnError saw exactly err, once, from op on path.
func (l *retryLog) wantReport(t *testing.T, op vfs.Op, path string, err error) {
	t.Helper()
	if len(l.reports) != 1 || l.reports[0] != (report{op, path, err}) {
		t.Fatalf("reports = %v, want one {%v %s %v}", l.reports, op, path, err)
	}
}

func (l *retryLog) wantNoReport(t *testing.T) {
	t.Helper()
	if len(l.reports) != 0 {
		t.Fatalf("reports = %v, want none", l.reports)
	}
}

// retryMem returns WithRetry over WithInjector(tog) over a MemFS holding /d/f
// ("hello"), and the log of its waits and reports.
func retryMem(t *testing.T, tog *vfs.Toggle, opts vfs.RetryOptions) (vfs.FS, *retryLog) {
	t.Helper()
	m := vfs.NewMem()
	must(t, m.MkdirAll("/d", 0o755))
	writeFile(t, m, "/d/f", "hello")
	l := &retryLog{}
	return vfs.WithRetry(vfs.WithInjector(m, tog), l.options(opts)), l
}

// retryCases call each retried operation once, through fsys or f (fsys's handle
// on /d/f); op and path are what the Injector and OnError see.
var retryCases = []struct {
	name string
	op   vfs.Op
	path string
	call func(fsys vfs.FS, f vfs.File) error
}{
	{"Create", vfs.OpCreate, "/d/g", func(fsys vfs.FS, _ vfs.File) error { return openClose(fsys.Create, "/d/g") }},
	{"Open", vfs.OpOpen, "/d/f", func(fsys vfs.FS, _ vfs.File) error { return openClose(fsys.Open, "/d/f") }},
	{"OpenReadWrite", vfs.OpOpen, "/d/f", func(fsys vfs.FS, _ vfs.File) error { return openClose(fsys.OpenReadWrite, "/d/f") }},
	{"Remove", vfs.OpRemove, "/d/f", func(fsys vfs.FS, _ vfs.File) error { return fsys.Remove("/d/f") }},
	{"Rename", vfs.OpRename, "/d/f", func(fsys vfs.FS, _ vfs.File) error { return fsys.Rename("/d/f", "/d/g") }},
	{"MkdirAll", vfs.OpMkdir, "/d/e", func(fsys vfs.FS, _ vfs.File) error { return fsys.MkdirAll("/d/e", 0o755) }},
	{"Stat", vfs.OpStat, "/d/f", func(fsys vfs.FS, _ vfs.File) error { _, err := fsys.Stat("/d/f"); return err }},
	{"List", vfs.OpList, "/d", func(fsys vfs.FS, _ vfs.File) error { _, err := fsys.List("/d"); return err }},
	{"SyncDir", vfs.OpSyncDir, "/d", func(fsys vfs.FS, _ vfs.File) error { return fsys.SyncDir("/d") }},
	{"Read", vfs.OpRead, "/d/f", func(_ vfs.FS, f vfs.File) error { _, err := f.Read(make([]byte, 2)); return err }},
	{"ReadAt", vfs.OpRead, "/d/f", func(_ vfs.FS, f vfs.File) error { _, err := f.ReadAt(make([]byte, 2), 1); return err }},
	{"Write", vfs.OpWrite, "/d/f", func(_ vfs.FS, f vfs.File) error { _, err := f.Write([]byte("J")); return err }},
	{"WriteAt", vfs.OpWrite, "/d/f", func(_ vfs.FS, f vfs.File) error { _, err := f.WriteAt([]byte("J"), 0); return err }},
	{"WriteVAt", vfs.OpWrite, "/d/f", func(_ vfs.FS, f vfs.File) error {
		_, _, err := vfs.WriteVAt(f, [][]byte{[]byte("J"), []byte("E")}, 0, nil)
		return err
	}},
	{"Sync", vfs.OpSync, "/d/f", func(_ vfs.FS, f vfs.File) error { return f.Sync() }},
	{"Truncate", vfs.OpTruncate, "/d/f", func(_ vfs.FS, f vfs.File) error { return f.Truncate(3) }},
	{"Size", vfs.OpStat, "/d/f", func(_ vfs.FS, f vfs.File) error { _, err := f.Size(); return err }},
}

func openClose(open func(string) (vfs.File, error), name string) error {
	f, err := open(name)
	if err != nil {
		return err
	}
	return f.Close()
}

// TestRetryTransientClears fails every retried operation with EAGAIN twice and
// checks that the third try succeeds after the default waits, with nothing
// reported.
func TestRetryTransientClears(t *testing.T) {
	for _, c := range retryCases {
		t.Run(c.name, func(t *testing.T) {
			tog := vfs.NewToggle(c.op)
			fsys, l := retryMem(t, tog, vfs.RetryOptions{})
			f, err := fsys.OpenReadWrite("/d/f")
			must(t, err)
			defer f.Close()
			l.clear, l.clearAt = tog, 2
			tog.Enable(syscall.EAGAIN)
			must(t, c.call(fsys, f))
			if tog.Hits() != 2 {
				t.Fatalf("failed tries = %d, want 2", tog.Hits())
			}
			l.wantWaits(t, 10*time.Millisecond, 20*time.Millisecond)
			l.wantNoReport(t)
		})
	}
}

// TestRetryTransientPersists checks that an operation failing with a transient
// error every time gives up after Attempts tries and reports the error once.
func TestRetryTransientPersists(t *testing.T) {
	for _, c := range retryCases {
		t.Run(c.name, func(t *testing.T) {
			tog := vfs.NewToggle(c.op)
			fsys, l := retryMem(t, tog, vfs.RetryOptions{Attempts: 3, Backoff: time.Millisecond})
			f, err := fsys.OpenReadWrite("/d/f")
			must(t, err)
			defer f.Close()
			tog.Enable(syscall.EAGAIN)
			err = c.call(fsys, f)
			if !errors.Is(err, syscall.EAGAIN) || tog.Hits() != 3 {
				t.Fatalf("err = %v after %d tries, want EAGAIN after 3", err, tog.Hits())
			}
			l.wantWaits(t, time.Millisecond, 2*time.Millisecond)
			l.wantReport(t, c.op, c.path, err)
		})
	}
}

// TestRetryBackoff checks the waits: doubling from Backoff, capped at
// MaxBackoff, Attempts-1 of them, and the defaults for zero fields.
func TestRetryBackoff(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name  string
		opts  vfs.RetryOptions
		waits []time.Duration
	}{
		{"defaults", vfs.RetryOptions{}, []time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms}},
		{"negative", vfs.RetryOptions{Attempts: -1, Backoff: -1, MaxBackoff: -1}, []time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms}},
		{"capped", vfs.RetryOptions{Attempts: 6, Backoff: 300 * ms}, []time.Duration{300 * ms, 600 * ms, time.Second, time.Second, time.Second}},
		{"first capped", vfs.RetryOptions{Attempts: 3, Backoff: 2 * time.Second, MaxBackoff: 500 * ms}, []time.Duration{500 * ms, 500 * ms}},
		{"huge cap", vfs.RetryOptions{Attempts: 4, Backoff: 1 << 61, MaxBackoff: 1<<63 - 1}, []time.Duration{1 << 61, 1 << 62, 1<<63 - 1}},
		{"one attempt", vfs.RetryOptions{Attempts: 1}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tog := vfs.NewToggle(vfs.OpStat)
			fsys, l := retryMem(t, tog, c.opts)
			tog.Enable(syscall.ETIMEDOUT)
			if _, err := fsys.Stat("/d/f"); !errors.Is(err, syscall.ETIMEDOUT) {
				t.Fatalf("Stat err = %v, want ETIMEDOUT", err)
			}
			l.wantWaits(t, c.waits...)
			if tog.Hits() != len(c.waits)+1 {
				t.Fatalf("tries = %d, want %d", tog.Hits(), len(c.waits)+1)
			}
		})
	}
}

// TestRetryPermanentNotRetried checks that an error that is not transient,
// permanent or unclassified, is tried once and reported.
func TestRetryPermanentNotRetried(t *testing.T) {
	for _, errno := range []error{
		syscall.EIO, syscall.ENOSPC, syscall.EROFS, syscall.ENODEV,
		errors.Join(syscall.EIO, syscall.EAGAIN), // permanent wins
		syscall.EACCES,                           // neither class
	} {
		t.Run(errno.Error(), func(t *testing.T) {
			tog := vfs.NewToggle(vfs.OpWrite)
			fsys, l := retryMem(t, tog, vfs.RetryOptions{})
			f, err := fsys.OpenReadWrite("/d/f")
			must(t, err)
			defer f.Close()
			tog.Enable(errno)
			_, err = f.WriteAt([]byte("x"), 0)
			if !errors.Is(err, errno) || tog.Hits() != 1 {
				t.Fatalf("err = %v after %d tries, want %v after 1", err, tog.Hits(), errno)
			}
			if vfs.IsPermanent(err) != vfs.IsPermanent(errno) {
				t.Fatalf("IsPermanent changed through the wrapper: %v", err)
			}
			l.wantWaits(t)
			l.wantReport(t, vfs.OpWrite, "/d/f", err)
		})
	}
}

// TestRetryCloseNotRetried checks that Close is tried once even on a transient
// error, and reported.
func TestRetryCloseNotRetried(t *testing.T) {
	tog := vfs.NewToggle(vfs.OpClose)
	fsys, l := retryMem(t, tog, vfs.RetryOptions{})
	f, err := fsys.Open("/d/f")
	must(t, err)
	tog.Enable(syscall.EINTR)
	err = f.Close()
	if !errors.Is(err, syscall.EINTR) || tog.Hits() != 1 {
		t.Fatalf("Close err = %v after %d tries, want EINTR after 1", err, tog.Hits())
	}
	l.wantWaits(t)
	l.wantReport(t, vfs.OpClose, "/d/f", err)
}

// shortFS opens files whose Read, Write and first WriteAt move only half the
// buffer and fail with EAGAIN, as a signal interrupting a transfer might.
type shortFS struct {
	vfs.FS
	last *shortFile // the file opened last
}

func (s *shortFS) OpenReadWrite(name string) (vfs.File, error) {
	f, err := s.FS.OpenReadWrite(name)
	if err != nil {
		return nil, err
	}
	s.last = &shortFile{File: f}
	return s.last, nil
}

type shortFile struct {
	vfs.File
	calls int // Read, Write and WriteAt calls
}

var errShort = &os.PathError{Op: "io", Path: "/f", Err: syscall.EAGAIN}

func (f *shortFile) Read(p []byte) (int, error) {
	f.calls++
	n, _ := f.File.Read(p[:len(p)/2])
	return n, errShort
}

func (f *shortFile) Write(p []byte) (int, error) {
	f.calls++
	n, _ := f.File.Write(p[:len(p)/2])
	return n, errShort
}

func (f *shortFile) WriteAt(p []byte, off int64) (int, error) {
	f.calls++
	if f.calls == 1 {
		n, _ := f.File.WriteAt(p[:len(p)/2], off)
		return n, errShort
	}
	return f.File.WriteAt(p, off)
}

// TestRetryPartialNotRetried checks that a Read or Write that moved bytes before
// a transient error returns them with the error instead of retrying, since the
// handle's offset has moved, while a partial WriteAt is retried whole.
func TestRetryPartialNotRetried(t *testing.T) {
	cases := []struct {
		name  string
		op    vfs.Op
		call  func(f vfs.File) (int, error)
		n     int
		err   error
		calls int
		after string
	}{
		{"Write", vfs.OpWrite, func(f vfs.File) (int, error) { return f.Write([]byte("abcd")) }, 2, errShort, 1, "abyz"},
		{"Read", vfs.OpRead, func(f vfs.File) (int, error) { return f.Read(make([]byte, 4)) }, 2, errShort, 1, "wxyz"},
		{"WriteAt", vfs.OpWrite, func(f vfs.File) (int, error) { return f.WriteAt([]byte("abcd"), 0) }, 4, nil, 2, "abcd"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := vfs.NewMem()
			writeFile(t, m, "/f", "wxyz")
			short := &shortFS{FS: m}
			l := &retryLog{}
			f, err := vfs.WithRetry(short, l.options(vfs.RetryOptions{})).OpenReadWrite("/f")
			must(t, err)
			defer f.Close()
			n, err := c.call(f)
			if n != c.n || err != c.err || short.last.calls != c.calls {
				t.Fatalf("= %d, %v after %d calls; want %d, %v after %d",
					n, err, short.last.calls, c.n, c.err, c.calls)
			}
			if got := readFile(t, m, "/f"); got != c.after {
				t.Fatalf("contents = %q, want %q", got, c.after)
			}
			if c.err != nil {
				l.wantReport(t, c.op, "/f", c.err)
			} else {
				l.wantNoReport(t)
			}
		})
	}
}

// halfRemoveFS removes a file and then, the first time, fails with EINTR as
// if the removal had not happened.
type halfRemoveFS struct {
	vfs.FS
	failed bool
}

func (h *halfRemoveFS) Remove(name string) error {
	err := h.FS.Remove(name)
	if err == nil && !h.failed {
		h.failed = true
		return &os.PathError{Op: "remove", Path: name, Err: syscall.EINTR}
	}
	return err
}

// TestRetryRemoveHalfDone checks that a Remove retried after it took effect
// returns the retry's fs.ErrNotExist as it is, without reporting it.
func TestRetryRemoveHalfDone(t *testing.T) {
	m := vfs.NewMem()
	writeFile(t, m, "/f", "x")
	l := &retryLog{}
	err := vfs.WithRetry(&halfRemoveFS{FS: m}, l.options(vfs.RetryOptions{})).Remove("/f")
	var pe *os.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Path != "/f" {
		t.Fatalf("Remove err = %#v, want *os.PathError for /f satisfying fs.ErrNotExist", err)
	}
	l.wantWaits(t, 10*time.Millisecond)
	l.wantNoReport(t)
}

// TestRetryOnErrorSkipsAnswers checks which errors OnError sees: not io.EOF, not
// a missing name from Open, Stat or Remove, but every other failure.
func TestRetryOnErrorSkipsAnswers(t *testing.T) {
	fsys, l := retryMem(t, vfs.NewToggle(), vfs.RetryOptions{})
	_, err := fsys.Open("/d/missing")
	wantIs(t, err, fs.ErrNotExist)
	_, err = fsys.OpenReadWrite("/missing/f")
	wantIs(t, err, fs.ErrNotExist)
	_, err = fsys.Stat("/d/missing")
	wantIs(t, err, fs.ErrNotExist)
	wantIs(t, fsys.Remove("/d/missing"), fs.ErrNotExist)
	f, err := fsys.Open("/d/f")
	must(t, err)
	defer f.Close()
	if _, err := f.ReadAt(make([]byte, 9), 0); err != io.EOF {
		t.Fatalf("ReadAt past the end: err = %v, want io.EOF", err)
	}
	if _, err := io.ReadAll(f); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("Read at the end: err = %v, want io.EOF", err)
	}
	l.wantNoReport(t)

	_, err = fsys.List("/d/missing")
	wantIs(t, err, fs.ErrNotExist)
	l.wantReport(t, vfs.OpList, "/d/missing", err)
	l.reports = nil
	_, err = f.Write([]byte("x")) // read-only handle
	if err == nil {
		t.Fatal("Write on a read-only file succeeded")
	}
	l.wantReport(t, vfs.OpWrite, "/d/f", err)
	l.wantWaits(t)
}

// vecFS opens files that count how they are written.
type vecFS struct {
	vfs.FS
	last *vecFile
}

func (v *vecFS) Create(name string) (vfs.File, error) {
	f, err := v.FS.Create(name)
	if err != nil {
		return nil, err
	}
	v.last = &vecFile{File: f}
	return v.last, nil
}

type vecFile struct {
	vfs.File
	writeAts, writeVAts int
}

func (f *vecFile) WriteAt(p []byte, off int64) (int, error) {
	f.writeAts++
	return f.File.WriteAt(p, off)
}

func (f *vecFile) WriteVAt(bufs [][]byte, off int64) (int, error) {
	f.writeVAts++
	n, _, err := vfs.WriteVAt(f.File, bufs, off, nil)
	return n, err
}

// TestRetryKeepsWriteVAt checks that files of WithRetry are VectorWriterAts that
// hand WriteVAt to the underlying file's own WriteVAt, never to WriteAt.
func TestRetryKeepsWriteVAt(t *testing.T) {
	v := &vecFS{FS: vfs.NewMem()}
	f, err := vfs.WithRetry(v, vfs.RetryOptions{}).Create("/f")
	must(t, err)
	defer f.Close()
	if _, ok := f.(vfs.VectorWriterAt); !ok {
		t.Fatal("file of WithRetry is not a VectorWriterAt")
	}
	n, _, err := vfs.WriteVAt(f, [][]byte{[]byte("ab"), nil, []byte("cde")}, 1, nil)
	if err != nil || n != 5 {
		t.Fatalf("WriteVAt = %d, %v; want 5, nil", n, err)
	}
	if v.last.writeVAts != 1 || v.last.writeAts != 0 {
		t.Fatalf("underlying WriteVAt calls = %d, WriteAt calls = %d; want 1, 0",
			v.last.writeVAts, v.last.writeAts)
	}
	buf := make([]byte, 6)
	_, err = f.ReadAt(buf, 0)
	must(t, err)
	if want := "\x00abcde"; string(buf) != want {
		t.Fatalf("contents = %q, want %q", buf, want)
	}
}

// TestRetryWriteVAtOS writes more buffers than IOV_MAX through WithRetry on the
// os file system, the first try failing with EAGAIN, and reads them back.
func TestRetryWriteVAtOS(t *testing.T) {
	tog := vfs.NewToggle(vfs.OpWrite)
	l := &retryLog{clear: tog, clearAt: 1}
	fsys := vfs.WithRetry(vfs.WithInjector(vfs.Default, tog), l.options(vfs.RetryOptions{}))
	f, err := fsys.Create(filepath.Join(t.TempDir(), "f"))
	must(t, err)
	defer f.Close()
	var bufs [][]byte
	var want []byte
	for i := range 1500 {
		b := bytes.Repeat([]byte{byte(i)}, 1+i%7)
		bufs = append(bufs, b)
		want = append(want, b...)
	}
	tog.Enable(syscall.EAGAIN)
	n, _, err := vfs.WriteVAt(f, bufs, 100, nil)
	if err != nil || n != len(want) {
		t.Fatalf("WriteVAt = %d, %v; want %d, nil", n, err, len(want))
	}
	got := make([]byte, len(want))
	_, err = f.ReadAt(got, 100)
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Fatal("read back differs")
	}
	l.wantWaits(t, 10*time.Millisecond)
	l.wantNoReport(t)
}

// TestRetryNoAllocs checks that the wrapper adds no allocation to ReadAt and
// WriteAt, the page file's hot path.
func TestRetryNoAllocs(t *testing.T) {
	raw, err := vfs.Default.Create(filepath.Join(t.TempDir(), "f"))
	must(t, err)
	defer raw.Close()
	f, err := vfs.WithRetry(vfs.Default, vfs.RetryOptions{}).OpenReadWrite(filepath.Join(t.TempDir(), "g"))
	must(t, err)
	defer f.Close()
	buf := make([]byte, 4096)
	for name, file := range map[string]vfs.File{"raw": raw, "retry": f} {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := file.WriteAt(buf, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := file.ReadAt(buf, 0); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per WriteAt and ReadAt, want 0", name, allocs)
		}
	}
}
