package vfs_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"github.com/sopd/sop/vfs"
)

// wrappings are the ways an errno reaches a caller: bare, in the os package's
// error types, wrapped with %w, and joined with another error.
var wrappings = map[string]func(error) error{
	"bare":      func(err error) error { return err },
	"PathError": func(err error) error { return &os.PathError{Op: "write", Path: "/p", Err: err} },
	"LinkError": func(err error) error { return &os.LinkError{Op: "rename", Old: "/a", New: "/b", Err: err} },
	"Syscall":   func(err error) error { return os.NewSyscallError("pwritev", err) },
	"Errorf": func(err error) error {
		return fmt.Errorf("write page 7: %w", &os.PathError{Op: "write", Path: "/p", Err: err})
	},
	"Join": func(err error) error { return errors.Join(errors.New("close: ok"), fmt.Errorf("sync: %w", err)) },
}

// wantClass checks IsPermanent and IsTransient of err under every wrapping.
func wantClass(t *testing.T, err error, permanent, transient bool) {
	t.Helper()
	for name, wrap := range wrappings {
		w := wrap(err)
		if got := vfs.IsPermanent(w); got != permanent {
			t.Errorf("%s(%v): IsPermanent = %v, want %v", name, err, got, permanent)
		}
		if got := vfs.IsTransient(w); got != transient {
			t.Errorf("%s(%v): IsTransient = %v, want %v", name, err, got, transient)
		}
	}
}

func TestErrorClasses(t *testing.T) {
	cases := []struct {
		err                  error
		permanent, transient bool
	}{
		{syscall.EIO, true, false},
		{syscall.EROFS, true, false},
		{syscall.ENOSPC, true, false},
		{syscall.EDQUOT, true, false},
		{syscall.ENODEV, true, false},
		{syscall.ENXIO, true, false},
		{syscall.EINTR, false, true},
		{syscall.EAGAIN, false, true},
		{syscall.EBUSY, false, true},
		{syscall.ETIMEDOUT, false, true},
		{syscall.ENOBUFS, false, true},
		{syscall.ENOMEM, false, true},
		// Answers and bugs are neither.
		{syscall.ENOENT, false, false},
		{syscall.EEXIST, false, false},
		{syscall.EACCES, false, false},
		{syscall.EBADF, false, false},
		{syscall.EINVAL, false, false},
		{fs.ErrNotExist, false, false},
		{os.ErrClosed, false, false},
		{io.EOF, false, false},
		{errors.New("checksum mismatch"), false, false},
		// Permanent wins over transient.
		{errors.Join(syscall.EAGAIN, syscall.EIO), true, false},
		{errors.Join(syscall.ENOSPC, syscall.EINTR), true, false},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.err), func(t *testing.T) { wantClass(t, c.err, c.permanent, c.transient) })
	}
}

func TestErrorClassesNil(t *testing.T) {
	if vfs.IsPermanent(nil) || vfs.IsTransient(nil) {
		t.Fatal("nil is classified")
	}
}
