//go:build !linux

package vfs

import "syscall"

// platformPermanentErrnos is empty: EUCLEAN exists only on Linux.
var platformPermanentErrnos []syscall.Errno
