//go:build linux

package vfs

import "syscall"

// platformPermanentErrnos are the permanent errors only Linux has; see IsPermanent.
var platformPermanentErrnos = []syscall.Errno{syscall.EUCLEAN}
