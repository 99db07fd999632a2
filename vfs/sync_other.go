//go:build !linux

package vfs

import "os"

// fdatasync falls back to a full fsync where the OS has no fdatasync.
func fdatasync(f *os.File) error { return f.Sync() }
