package vfs_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/sopd/sop/vfs"
)

// TestWriteVAt writes many buffers at an offset through every file system
// and reads them back whole.
func TestWriteVAt(t *testing.T) {
	mem := vfs.NewMem()
	mem.MkdirAll("/d", 0o755)
	for name, c := range map[string]struct {
		fs  vfs.FS
		dir string
	}{
		"os":       {vfs.Default, t.TempDir()},
		"mem":      {mem, "/d"},
		"injected": {vfs.WithInjector(vfs.Default, vfs.NewToggle()), t.TempDir()},
	} {
		t.Run(name, func(t *testing.T) {
			f, err := c.fs.Create(filepath.Join(c.dir, "f"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var bufs [][]byte
			var want []byte
			for i := 0; i < 1500; i++ { // more than IOV_MAX
				b := bytes.Repeat([]byte{byte(i)}, 1+i%7)
				if i%100 == 0 {
					b = nil
				}
				bufs = append(bufs, b)
				want = append(want, b...)
			}
			n, _, err := vfs.WriteVAt(f, bufs, 100, nil)
			if err != nil || n != len(want) {
				t.Fatalf("WriteVAt = %d, %v; want %d", n, err, len(want))
			}
			got := make([]byte, len(want))
			if _, err := f.ReadAt(got, 100); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("read back differs (err %v)", err)
			}
		})
	}
}

func TestWriteVAtInjected(t *testing.T) {
	tg := vfs.NewToggle(vfs.OpWrite)
	fsys := vfs.WithInjector(vfs.Default, tg)
	f, err := fsys.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tg.Enable(syscall.ENOSPC)
	if _, _, err := vfs.WriteVAt(f, [][]byte{[]byte("x")}, 0, nil); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("injected ENOSPC: %v", err)
	}
}
