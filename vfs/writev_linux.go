//go:build linux

package vfs

import (
	"os"
	"slices"
	"syscall"
	"unsafe"
)

// iovMax is the most buffers one pwritev takes (Linux's IOV_MAX).
const iovMax = 1024

// WriteVAt writes bufs at off with pwritev(2), as many calls as partial
// writes and IOV_MAX require.
func (f osFile) WriteVAt(bufs [][]byte, off int64) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	bufs = slices.Clone(bufs) // advance trims the first buffer in place
	total := 0
	iov := make([]syscall.Iovec, 0, min(len(bufs), iovMax))
	var serr error
	cerr := rc.Control(func(fd uintptr) {
		for len(bufs) > 0 && serr == nil {
			iov = iov[:0]
			for _, b := range bufs[:min(len(bufs), iovMax)] {
				if len(b) > 0 {
					v := syscall.Iovec{Base: &b[0]}
					v.SetLen(len(b))
					iov = append(iov, v)
				}
			}
			if len(iov) == 0 {
				return
			}
			n, _, errno := syscall.Syscall6(syscall.SYS_PWRITEV, fd,
				uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)), uintptr(off), 0, 0)
			if errno == syscall.EINTR {
				continue
			}
			if errno != 0 {
				serr = errno
				return
			}
			if n == 0 {
				serr = syscall.EIO
				return
			}
			total += int(n)
			off += int64(n)
			bufs = advance(bufs, int(n))
		}
	})
	if cerr != nil {
		return total, &os.PathError{Op: "pwritev", Path: f.Name(), Err: os.ErrClosed}
	}
	if serr != nil {
		return total, &os.PathError{Op: "pwritev", Path: f.Name(), Err: serr}
	}
	return total, nil
}

// advance drops the first n bytes of bufs.
func advance(bufs [][]byte, n int) [][]byte {
	for n > 0 && len(bufs) > 0 {
		if n < len(bufs[0]) {
			bufs[0] = bufs[0][n:]
			return bufs
		}
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	for len(bufs) > 0 && len(bufs[0]) == 0 {
		bufs = bufs[1:]
	}
	return bufs
}

var _ VectorWriterAt = osFile{}
