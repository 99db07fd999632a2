package vfs

import (
	"fmt"
	"os"
)

// Op is a kind of file-system operation, as an Injector sees it.
type Op uint8

// The kinds of operation. Each FS and File method asks the Injector with exactly one.
const (
	OpCreate   Op = iota // FS.Create
	OpOpen               // FS.Open, FS.OpenReadWrite
	OpRead               // File.Read, File.ReadAt
	OpWrite              // File.Write, File.WriteAt
	OpSync               // File.Sync
	OpTruncate           // File.Truncate
	OpRemove             // FS.Remove
	OpRename             // FS.Rename, with the old name as path
	OpMkdir              // FS.MkdirAll
	OpStat               // FS.Stat, File.Size
	OpList               // FS.List
	OpSyncDir            // FS.SyncDir
	OpClose              // File.Close
	numOps
)

var opNames = [numOps]string{
	"create", "open", "read", "write", "sync", "truncate", "remove", "rename",
	"mkdir", "stat", "list", "syncdir", "close",
}

func (o Op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Injector decides whether an operation fails. MaybeError is called before each
// operation with its kind and path (for File methods, the name the file was opened
// with) and returns the error to fail it with, or nil to let it proceed. It may be
// called concurrently.
type Injector interface {
	MaybeError(op Op, path string) error
}

// InjectorFunc adapts a function to Injector.
type InjectorFunc func(op Op, path string) error

var _ Injector = InjectorFunc(nil)

// MaybeError implements Injector.
func (f InjectorFunc) MaybeError(op Op, path string) error { return f(op, path) }

// WithInjector returns fs with every operation, File methods included, first
// submitted to inj. A failed operation is not performed, except Close, which releases
// the file and then returns the injected error, as close(2) does on EIO. An injected
// error is returned as an *os.PathError{Op: op.String(), Path: path, Err: err},
// unless it already is an *os.PathError.
func WithInjector(fs FS, inj Injector) FS { return &injectFS{fs: fs, inj: inj} }

type injectFS struct {
	fs  FS
	inj Injector
}

var (
	_ FS   = (*injectFS)(nil)
	_ File = (*injectFile)(nil)
)

func (i *injectFS) maybe(op Op, path string) error {
	err := i.inj.MaybeError(op, path)
	if err == nil {
		return nil
	}
	if _, ok := err.(*os.PathError); ok {
		return err
	}
	return &os.PathError{Op: op.String(), Path: path, Err: err}
}

func (i *injectFS) wrap(name string, f File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	return &injectFile{f: f, name: name, fs: i}, nil
}

func (i *injectFS) Create(name string) (File, error) {
	if err := i.maybe(OpCreate, name); err != nil {
		return nil, err
	}
	f, err := i.fs.Create(name)
	return i.wrap(name, f, err)
}

func (i *injectFS) OpenReadWrite(name string) (File, error) {
	if err := i.maybe(OpOpen, name); err != nil {
		return nil, err
	}
	f, err := i.fs.OpenReadWrite(name)
	return i.wrap(name, f, err)
}

func (i *injectFS) Open(name string) (File, error) {
	if err := i.maybe(OpOpen, name); err != nil {
		return nil, err
	}
	f, err := i.fs.Open(name)
	return i.wrap(name, f, err)
}

func (i *injectFS) Remove(name string) error {
	if err := i.maybe(OpRemove, name); err != nil {
		return err
	}
	return i.fs.Remove(name)
}

func (i *injectFS) Rename(oldname, newname string) error {
	if err := i.maybe(OpRename, oldname); err != nil {
		return err
	}
	return i.fs.Rename(oldname, newname)
}

func (i *injectFS) MkdirAll(dir string, perm os.FileMode) error {
	if err := i.maybe(OpMkdir, dir); err != nil {
		return err
	}
	return i.fs.MkdirAll(dir, perm)
}

func (i *injectFS) Stat(name string) (os.FileInfo, error) {
	if err := i.maybe(OpStat, name); err != nil {
		return nil, err
	}
	return i.fs.Stat(name)
}

func (i *injectFS) List(dir string) ([]string, error) {
	if err := i.maybe(OpList, dir); err != nil {
		return nil, err
	}
	return i.fs.List(dir)
}

func (i *injectFS) SyncDir(dir string) error {
	if err := i.maybe(OpSyncDir, dir); err != nil {
		return err
	}
	return i.fs.SyncDir(dir)
}

// injectFile submits each File method to its FS's Injector.
type injectFile struct {
	f    File
	name string
	fs   *injectFS
}

func (f *injectFile) Read(p []byte) (int, error) {
	if err := f.fs.maybe(OpRead, f.name); err != nil {
		return 0, err
	}
	return f.f.Read(p)
}

func (f *injectFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.maybe(OpRead, f.name); err != nil {
		return 0, err
	}
	return f.f.ReadAt(p, off)
}

func (f *injectFile) Write(p []byte) (int, error) {
	if err := f.fs.maybe(OpWrite, f.name); err != nil {
		return 0, err
	}
	return f.f.Write(p)
}

func (f *injectFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.maybe(OpWrite, f.name); err != nil {
		return 0, err
	}
	return f.f.WriteAt(p, off)
}

func (f *injectFile) Sync() error {
	if err := f.fs.maybe(OpSync, f.name); err != nil {
		return err
	}
	return f.f.Sync()
}

func (f *injectFile) Truncate(size int64) error {
	if err := f.fs.maybe(OpTruncate, f.name); err != nil {
		return err
	}
	return f.f.Truncate(size)
}

func (f *injectFile) Size() (int64, error) {
	if err := f.fs.maybe(OpStat, f.name); err != nil {
		return 0, err
	}
	return f.f.Size()
}

func (f *injectFile) Close() error {
	injected := f.fs.maybe(OpClose, f.name)
	err := f.f.Close()
	if injected != nil {
		return injected
	}
	return err
}
