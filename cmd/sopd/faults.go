package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sopd/sop/vfs"
)

// ioErrnos are the errors --inject-io-faults can name.
var ioErrnos = map[string]syscall.Errno{
	"EIO": syscall.EIO, "ENOSPC": syscall.ENOSPC, "EROFS": syscall.EROFS, "EDQUOT": syscall.EDQUOT,
	"ENODEV": syscall.ENODEV, "ENXIO": syscall.ENXIO, "EAGAIN": syscall.EAGAIN, "EINTR": syscall.EINTR,
	"EBUSY": syscall.EBUSY, "ETIMEDOUT": syscall.ETIMEDOUT,
}

// ioFaults is the page files' FS of a node run with --inject-io-faults
// control: while the file control exists and names an errno (its first
// word), every page-file operation under dir fails with it (the passive
// data dir is not affected). A testing aid for storage failover: nil (the
// default FS) when control is empty.
func ioFaults(control, dir string) vfs.FS {
	if control == "" {
		return nil
	}
	t := &faultTrigger{control: control, dir: filepath.Clean(dir) + string(filepath.Separator)}
	return vfs.WithInjector(vfs.Default, vfs.InjectorFunc(t.maybeError))
}

// faultTrigger reads its control file at most every 50ms.
type faultTrigger struct {
	control, dir string

	mu      sync.Mutex
	checked time.Time
	err     error
}

func (t *faultTrigger) maybeError(op vfs.Op, path string) error {
	if !strings.HasPrefix(filepath.Clean(path), t.dir) {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if time.Since(t.checked) >= 50*time.Millisecond {
		t.checked = time.Now()
		t.err = nil
		if b, err := os.ReadFile(t.control); err == nil {
			if f := strings.Fields(string(b)); len(f) > 0 {
				if errno, ok := ioErrnos[strings.ToUpper(f[0])]; ok {
					t.err = errno
				}
			}
		}
	}
	return t.err
}
