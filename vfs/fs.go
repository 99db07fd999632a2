package vfs

import (
	"io"
	"os"
)

// FS is the file-system seam. Implementations are safe for concurrent use.
//
// Names are file paths as the os package takes them. Errors are those the os package
// would return (see the package doc), so a missing name satisfies
// errors.Is(err, fs.ErrNotExist). Nothing here is durable until File.Sync (contents)
// or SyncDir (directory entries); see the package doc.
type FS interface {
	// Create opens name for reading and writing, creating it with mode 0644 if
	// missing and truncating it to zero length if present (O_RDWR|O_CREATE|O_TRUNC).
	// The parent directory must exist.
	Create(name string) (File, error)
	// OpenReadWrite opens name for reading and writing, creating it with mode 0644
	// if missing and keeping its contents if present (O_RDWR|O_CREATE).
	OpenReadWrite(name string) (File, error)
	// Open opens name read-only. Writes through the returned File fail.
	Open(name string) (File, error)
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// Rename renames oldname to newname, atomically replacing newname if it exists.
	Rename(oldname, newname string) error
	// MkdirAll creates dir and any missing parents with mode perm. It succeeds if
	// dir already exists as a directory.
	MkdirAll(dir string, perm os.FileMode) error
	// Stat describes name.
	Stat(name string) (os.FileInfo, error)
	// List returns the base names of the entries of dir, sorted. The caller owns
	// the slice.
	List(dir string) ([]string, error)
	// SyncDir makes the entries of dir durable: names created, renamed or removed
	// in dir survive a crash once SyncDir returns nil.
	SyncDir(dir string) error
}

// File is an open file.
//
// ReadAt and WriteAt may be called concurrently with each other. Read, Write, Sync,
// Truncate and Close must not run concurrently with a write to the same File. Every
// method of a closed File returns an error satisfying errors.Is(err, os.ErrClosed).
//
// Read and Write use and advance the handle's own offset, which starts at 0. Read
// and ReadAt follow io.ReaderAt and os.File: a read that reaches the end of the file
// returns n < len(p) and io.EOF. WriteAt past the end of the file fills the gap with
// zeros.
type File interface {
	io.Reader
	io.Writer
	io.ReaderAt
	io.WriterAt
	io.Closer
	// Sync makes the file's contents and size durable (fdatasync on Linux). It
	// does not make the file's name durable; see FS.SyncDir.
	Sync() error
	// Truncate changes the size of the file, filling with zeros when it grows.
	Truncate(size int64) error
	// Size returns the current size of the file, durable or not.
	Size() (int64, error)
}
