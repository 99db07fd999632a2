//go:build !linux

package main

import "os"

// fdatasync falls back to fsync where the OS has no fdatasync.
func fdatasync(f *os.File) error { return f.Sync() }

func fsType(string) string { return "unknown file system" }

func bytesWritten() int64 { return -1 }
