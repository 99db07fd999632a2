package vfs

import (
	"io"
	"os"
	"slices"
	"syscall"
)

// fileState holds a file's contents.
// Invariant: applying unsynced in order to synced gives data.
type fileState struct {
	data     []byte   // live contents
	synced   []byte   // contents as of the last Sync; never aliases data
	unsynced []dataOp // writes and truncations since the last Sync, in order
}

// dataOp is one write of p at off, or when trun a truncation to size off.
type dataOp struct {
	off  int64
	p    []byte
	trun bool
}

func (op dataOp) apply(b []byte) []byte {
	if op.trun {
		return resize(b, op.off)
	}
	return writeBytes(b, op.p, op.off)
}

func (f *fileState) writeAt(p []byte, off int64) {
	if len(p) == 0 {
		return // like pwrite, an empty write does not extend the file
	}
	f.data = writeBytes(f.data, p, off)
	f.unsynced = append(f.unsynced, dataOp{off: off, p: slices.Clone(p)})
}

func (f *fileState) truncate(size int64) {
	f.data = resize(f.data, size)
	f.unsynced = append(f.unsynced, dataOp{off: size, trun: true})
}

// sync replays the unsynced log onto synced rather than copying data, so its cost is
// that of the bytes written since the last Sync, not of the file.
func (f *fileState) sync() {
	for _, op := range f.unsynced {
		f.synced = op.apply(f.synced)
	}
	f.unsynced = nil
}

// readAt reads like os.File.ReadAt: io.EOF when p is not filled.
func (f *fileState) readAt(p []byte, off int64) (int, error) {
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// writeBytes writes p at off in b, growing b with zeros as needed.
func writeBytes(b, p []byte, off int64) []byte {
	if end := off + int64(len(p)); end > int64(len(b)) {
		b = resize(b, end)
	}
	copy(b[off:], p)
	return b
}

// resize returns b with length size; bytes past the old length are zero even when b's
// spare capacity holds data from before a shrink.
func resize(b []byte, size int64) []byte {
	n := int(size)
	if n <= len(b) {
		return b[:n]
	}
	old := len(b)
	b = slices.Grow(b, n-old)[:n]
	clear(b[old:])
	return b
}

// memFile is an open MemFS file. All fields but the constants are guarded by fs.mu.
type memFile struct {
	fs       *MemFS
	n        *node
	name     string
	writable bool
	closed   bool
	off      int64 // Read and Write offset
}

var _ File = (*memFile)(nil)

// lock locks the file system and returns the error for op on this handle, if any; the
// caller unlocks whatever the error.
func (f *memFile) lock(op string, write bool) error {
	f.fs.mu.Lock()
	switch {
	case f.closed:
		return pathErr(op, f.name, os.ErrClosed)
	case write && !f.writable:
		return pathErr(op, f.name, syscall.EBADF)
	}
	return nil
}

func (f *memFile) unlock() { f.fs.mu.Unlock() }

// Read implements io.Reader like os.File: io.EOF only when nothing is left.
func (f *memFile) Read(p []byte) (int, error) {
	defer f.unlock()
	if err := f.lock("read", false); err != nil || len(p) == 0 {
		return 0, err
	}
	n, err := f.n.file.readAt(p, f.off)
	f.off += int64(n)
	if n > 0 {
		return n, nil
	}
	return 0, err
}

// ReadAt implements io.ReaderAt.
func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	defer f.unlock()
	if err := f.lock("read", false); err != nil || len(p) == 0 {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("readat", f.name, syscall.EINVAL)
	}
	return f.n.file.readAt(p, off)
}

// Write implements io.Writer.
func (f *memFile) Write(p []byte) (int, error) {
	defer f.unlock()
	if err := f.lock("write", true); err != nil {
		return 0, err
	}
	f.n.file.writeAt(p, f.off)
	f.off += int64(len(p))
	return len(p), nil
}

// WriteAt implements io.WriterAt.
func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	defer f.unlock()
	if err := f.lock("write", true); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("writeat", f.name, syscall.EINVAL)
	}
	f.n.file.writeAt(p, off)
	return len(p), nil
}

// Sync implements File. It works on read-only handles too, as fsync does.
func (f *memFile) Sync() error {
	defer f.unlock()
	if err := f.lock("sync", false); err != nil {
		return err
	}
	f.n.file.sync()
	return nil
}

// Truncate implements File.
func (f *memFile) Truncate(size int64) error {
	defer f.unlock()
	if err := f.lock("truncate", true); err != nil {
		return err
	}
	if size < 0 {
		return pathErr("truncate", f.name, syscall.EINVAL)
	}
	f.n.file.truncate(size)
	return nil
}

// Size implements File.
func (f *memFile) Size() (int64, error) {
	defer f.unlock()
	if err := f.lock("stat", false); err != nil {
		return 0, err
	}
	return int64(len(f.n.file.data)), nil
}

// Close implements io.Closer. Unsynced data stays in the file, as with the OS.
func (f *memFile) Close() error {
	defer f.unlock()
	if err := f.lock("close", false); err != nil {
		return err
	}
	f.closed = true
	return nil
}
