package vfs_test

import (
	"syscall"
	"testing"
)

// TestErrorClassesLinux covers the errnos that only Linux names.
func TestErrorClassesLinux(t *testing.T) {
	wantClass(t, syscall.EUCLEAN, true, false)
	wantClass(t, syscall.EWOULDBLOCK, false, true)
}
