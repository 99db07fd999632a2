package vfs_test

import (
	"fmt"
	"io"

	"github.com/sopd/sop/vfs"
)

// A file's contents survive a crash once synced; its name once its directory is.
func ExampleMemFS_Crash() {
	m := vfs.NewMem()
	_ = m.MkdirAll("/db", 0o755)
	_ = m.SyncDir("/") // makes /db itself durable

	f, _ := m.Create("/db/pages")
	_, _ = f.Write([]byte("synced"))
	_ = f.Sync()
	_ = m.SyncDir("/db") // makes the name /db/pages durable
	_, _ = f.WriteAt([]byte("UNSYNC"), 0)

	after := m.Crash()
	g, _ := after.Open("/db/pages")
	b, _ := io.ReadAll(g)
	fmt.Printf("%s\n", b)
	// Output: synced
}
