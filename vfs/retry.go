package vfs

import (
	"errors"
	"io"
	"os"
	"time"
)

// RetryOptions configures WithRetry. The zero value tries each operation up to 5
// times, waiting 10ms, 20ms, 40ms and 80ms between tries.
type RetryOptions struct {
	// Attempts is how many times one operation is tried in all, the first try
	// included. Zero or less means 5; 1 turns retrying off.
	Attempts int
	// Backoff is the wait before the second try; each later wait is twice the
	// one before, up to MaxBackoff. Zero or less means 10ms.
	Backoff time.Duration
	// MaxBackoff caps every wait, the first included. Zero or less means 1s.
	MaxBackoff time.Duration
	// OnError, when set, is called with every error an operation finally
	// returns, after its retries, except those that answer a question rather
	// than report a failure: io.EOF, and errors satisfying os.ErrNotExist or
	// os.ErrExist from an OpOpen, OpStat or OpRemove. op and path are as an
	// Injector sees them: for File methods the name the file was opened with, for
	// Rename the old name. It runs before the operation returns, may be called
	// concurrently, and must not call back into the FS.
	OnError func(op Op, path string, err error)
	// Sleep waits between tries; nil means time.Sleep. Tests set it to record
	// the waits instead of sleeping.
	Sleep func(time.Duration)
}

// The defaults for the zero fields of RetryOptions.
const (
	defaultRetryAttempts   = 5
	defaultRetryBackoff    = 10 * time.Millisecond
	defaultRetryMaxBackoff = time.Second
)

// WithRetry returns fs with every operation that fails with an error satisfying
// IsTransient tried again after a wait, up to opts.Attempts tries in all, as long
// as trying again is safe:
//
//   - Every FS method and the positional File methods are retried: ReadAt,
//     WriteAt and WriteVAt (a repeat moves the same bytes at the same offset),
//     Sync, Truncate and Size. A Remove or Rename that took effect but still
//     failed may fail its retry with an error satisfying os.ErrNotExist; that
//     error is returned as it is.
//   - Read and Write are retried only when they moved no bytes: after a partial
//     transfer the handle's offset has moved, so the caller gets n and the error.
//   - Close is never retried: close(2) releases the descriptor even when it
//     fails, and a second close could hit a descriptor just reused elsewhere.
//
// Any other error, permanent ones (IsPermanent) included, is returned at once.
// Errors are returned unchanged, as the last try gave them; opts.OnError sees
// them first. Files of the returned FS implement VectorWriterAt and pass WriteVAt
// on to the underlying file, so WriteVAt keeps its one-call path (pwritev on
// Linux) through the wrapper.
func WithRetry(fs FS, opts RetryOptions) FS {
	if opts.Attempts <= 0 {
		opts.Attempts = defaultRetryAttempts
	}
	if opts.Backoff <= 0 {
		opts.Backoff = defaultRetryBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = defaultRetryMaxBackoff
	}
	if opts.Sleep == nil {
		opts.Sleep = time.Sleep
	}
	return &retryFS{fs: fs, opts: opts}
}

// retryFS retries the operations of fs. It holds no mutable state, so it is as
// safe for concurrent use as fs.
type retryFS struct {
	fs   FS
	opts RetryOptions // Invariant: every field set; Attempts, Backoff, MaxBackoff > 0.
}

var (
	_ FS             = (*retryFS)(nil)
	_ File           = (*retryFile)(nil)
	_ VectorWriterAt = (*retryFile)(nil)
)

// retry calls try, and again after a wait while the call fails with a transient
// error and again, when not nil, allows it for the call's result, up to
// r.opts.Attempts calls in all. It reports the last call's error and returns
// the last call's results.
func retry[T any](r *retryFS, op Op, path string, try func() (T, error), again func(T) bool) (T, error) {
	v, err := try()
	wait := min(r.opts.Backoff, r.opts.MaxBackoff)
	for n := 1; n < r.opts.Attempts && IsTransient(err) && (again == nil || again(v)); n++ {
		r.opts.Sleep(wait)
		wait = r.doubled(wait)
		v, err = try()
	}
	r.report(op, path, err)
	return v, err
}

// doubled returns twice wait, capped at MaxBackoff without overflowing.
func (r *retryFS) doubled(wait time.Duration) time.Duration {
	if wait > r.opts.MaxBackoff/2 {
		return r.opts.MaxBackoff
	}
	return 2 * wait
}

// do is retry for operations that return only an error.
func (r *retryFS) do(op Op, path string, try func() error) error {
	_, err := retry(r, op, path, func() (struct{}, error) { return struct{}{}, try() }, nil)
	return err
}

// report passes err to OnError unless it is nil or an answer (see isAnswer).
func (r *retryFS) report(op Op, path string, err error) {
	if err == nil || r.opts.OnError == nil || isAnswer(op, err) {
		return
	}
	r.opts.OnError(op, path, err)
}

// isAnswer reports whether err from op answers a question about the tree or the
// file rather than reports a failure.
func isAnswer(op Op, err error) bool {
	if errors.Is(err, io.EOF) {
		return true
	}
	switch op {
	case OpOpen, OpStat, OpRemove:
		return errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrExist)
	}
	return false
}

// movedNothing allows retrying a Read or Write only when it transferred no bytes.
func movedNothing(n int) bool { return n == 0 }

func (r *retryFS) open(op Op, name string, open func(string) (File, error)) (File, error) {
	f, err := retry(r, op, name, func() (File, error) { return open(name) }, nil)
	if err != nil {
		return nil, err
	}
	return &retryFile{f: f, name: name, fs: r}, nil
}

func (r *retryFS) Create(name string) (File, error) { return r.open(OpCreate, name, r.fs.Create) }

func (r *retryFS) OpenReadWrite(name string) (File, error) {
	return r.open(OpOpen, name, r.fs.OpenReadWrite)
}

func (r *retryFS) Open(name string) (File, error) { return r.open(OpOpen, name, r.fs.Open) }

func (r *retryFS) Remove(name string) error {
	return r.do(OpRemove, name, func() error { return r.fs.Remove(name) })
}

func (r *retryFS) Rename(oldname, newname string) error {
	return r.do(OpRename, oldname, func() error { return r.fs.Rename(oldname, newname) })
}

func (r *retryFS) MkdirAll(dir string, perm os.FileMode) error {
	return r.do(OpMkdir, dir, func() error { return r.fs.MkdirAll(dir, perm) })
}

func (r *retryFS) Stat(name string) (os.FileInfo, error) {
	return retry(r, OpStat, name, func() (os.FileInfo, error) { return r.fs.Stat(name) }, nil)
}

func (r *retryFS) List(dir string) ([]string, error) {
	return retry(r, OpList, dir, func() ([]string, error) { return r.fs.List(dir) }, nil)
}

func (r *retryFS) SyncDir(dir string) error {
	return r.do(OpSyncDir, dir, func() error { return r.fs.SyncDir(dir) })
}

// retryFile retries the methods of f as its FS says.
type retryFile struct {
	f    File
	name string
	fs   *retryFS
}

func (f *retryFile) Read(p []byte) (int, error) {
	return retry(f.fs, OpRead, f.name, func() (int, error) { return f.f.Read(p) }, movedNothing)
}

func (f *retryFile) ReadAt(p []byte, off int64) (int, error) {
	return retry(f.fs, OpRead, f.name, func() (int, error) { return f.f.ReadAt(p, off) }, nil)
}

func (f *retryFile) Write(p []byte) (int, error) {
	return retry(f.fs, OpWrite, f.name, func() (int, error) { return f.f.Write(p) }, movedNothing)
}

func (f *retryFile) WriteAt(p []byte, off int64) (int, error) {
	return retry(f.fs, OpWrite, f.name, func() (int, error) { return f.f.WriteAt(p, off) }, nil)
}

// WriteVAt implements VectorWriterAt through WriteVAt on the underlying file, so
// an os file still writes with one pwritev.
func (f *retryFile) WriteVAt(bufs [][]byte, off int64) (int, error) {
	var scratch []byte // kept across tries when the underlying file copies
	return retry(f.fs, OpWrite, f.name, func() (n int, err error) {
		n, scratch, err = WriteVAt(f.f, bufs, off, scratch)
		return n, err
	}, nil)
}

func (f *retryFile) Sync() error { return f.fs.do(OpSync, f.name, f.f.Sync) }

func (f *retryFile) Truncate(size int64) error {
	return f.fs.do(OpTruncate, f.name, func() error { return f.f.Truncate(size) })
}

func (f *retryFile) Size() (int64, error) { return retry(f.fs, OpStat, f.name, f.f.Size, nil) }

func (f *retryFile) Close() error {
	err := f.f.Close()
	f.fs.report(OpClose, f.name, err)
	return err
}
