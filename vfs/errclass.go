package vfs

import (
	"errors"
	"syscall"
)

// Storage failover sorts the error of a failed operation into one of two classes,
// tested anywhere in the error's tree with errors.Is, so an *os.PathError, a %w
// wrapping or an errors.Join around the errno all count. An error in neither class
// (a missing file, a closed handle, bad input) is an answer or a bug and says
// nothing about the volume.

// permanentErrnos are the errors after which a volume cannot be trusted; see
// IsPermanent. platformPermanentErrnos adds those only some systems have.
var permanentErrnos = append([]syscall.Errno{
	syscall.EIO, syscall.EROFS, syscall.ENOSPC, syscall.EDQUOT, syscall.ENODEV, syscall.ENXIO,
}, platformPermanentErrnos...)

// transientErrnos are the errors worth retrying; see IsTransient. EWOULDBLOCK is
// not listed: it is the same errno as EAGAIN on every Unix, and wasip1 lacks the
// name.
var transientErrnos = []syscall.Errno{
	syscall.EINTR, syscall.EAGAIN, syscall.EBUSY, syscall.ETIMEDOUT, syscall.ENOBUFS, syscall.ENOMEM,
}

// IsPermanent reports whether err, anywhere in its tree, says that the volume
// under the file can no longer be trusted. The caller should stop using the
// volume and fail over rather than retry, because retrying either cannot succeed
// or, worse, can succeed without the data being safe:
//
//   - EIO: the device failed a read or a write. After a failed write-back Linux
//     may drop the dirty pages and mark them clean, so a later fsync succeeds
//     although the data never reached the disk (PostgreSQL's "fsyncgate"):
//     nothing written since the last good Sync can be trusted.
//   - EROFS: the file system became read-only, usually remounted so after it
//     found errors (ext4 errors=remount-ro). No write succeeds until an
//     operator acts.
//   - ENOSPC, EDQUOT: the volume or the quota is full. It does not clear by
//     itself, and a write that failed part way may have left a page half
//     written.
//   - EUCLEAN (Linux only): the file system found its own metadata corrupt
//     ("Structure needs cleaning" from ext4, XFS, btrfs).
//   - ENODEV, ENXIO: the device is gone: unplugged, detached (a cloud block
//     volume) or its driver failed.
func IsPermanent(err error) bool { return isAny(err, permanentErrnos) }

// IsTransient reports whether err, anywhere in its tree, is a momentary condition
// that the same operation is unlikely to meet again after a short wait, so it is
// worth retrying with backoff (see WithRetry):
//
//   - EINTR: a signal interrupted the call before it did anything.
//   - EAGAIN (EWOULDBLOCK): a resource is momentarily unavailable.
//   - EBUSY: the file or device is busy with another user.
//   - ETIMEDOUT: a network or user-space file system (NFS soft mount, FUSE,
//     iSCSI) did not answer in time; the server may be back soon.
//   - ENOBUFS, ENOMEM: the kernel is short of memory for buffers or
//     bookkeeping, which reclaim usually relieves.
//
// An error that is also permanent (an errors.Join of EIO and EAGAIN, say) is not
// transient: no wait makes the volume trustworthy again.
func IsTransient(err error) bool {
	return isAny(err, transientErrnos) && !IsPermanent(err)
}

// isAny reports whether errors.Is(err, e) for some e in errnos.
func isAny(err error, errnos []syscall.Errno) bool {
	if err == nil {
		return false
	}
	for _, e := range errnos {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
