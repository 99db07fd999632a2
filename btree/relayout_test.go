package btree

import (
	"fmt"
	"testing"
	"time"
)

// TestRelayout checks that relayout keeps every tree's content and the
// cache consistent with the disk, and lays leaves out in key order.
func TestRelayout(t *testing.T) {
	g := gen{r: newRand(t), pageSize: 4096}
	f := openTest(t, newMemFS(t), Checkpoint{}, Options{PageSize: 4096, RelayoutIdle: -1})
	m := model{}
	for i := 0; i < 30; i++ {
		b, _ := f.Begin()
		applyRandom(t, b, g, m)
		b.Commit()
		if i%5 == 0 {
			f.Flush(func(Checkpoint) error { return nil })
		}
	}
	if err := f.Relayout(); err != nil {
		t.Fatal(err)
	}
	if err := f.Check(); err != nil {
		t.Fatal(err)
	}
	rd, _ := f.NewReader()
	verifyAll(t, rd, m)
	var ids []PageID
	for _, tr := range rd.Trees() {
		ids = f.residentInKeyOrder(tr.Root, ids)
	}
	for i := 1; i < len(ids); i++ {
		prev, addr := uintptr(unsafePointer(f.cache.page(ids[i-1]))), uintptr(unsafePointer(f.cache.page(ids[i])))
		if i%slabPages != 0 && addr != prev+uintptr(f.psize) {
			t.Fatalf("page %d (key order %d) does not follow page %d in memory", ids[i], i, ids[i-1])
		}
	}
	rd.Release()
	// Writes after a relayout work as before.
	b, _ := f.Begin()
	applyRandom(t, b, g, m)
	b.Commit()
	rd, _ = f.NewReader()
	verifyAll(t, rd, m)
	rd.Release()
}

// TestRelayoutBackground checks that an idle writer after heavy rewriting
// gets its pages relaid out by the background goroutine.
func TestRelayoutBackground(t *testing.T) {
	f := openTest(t, newMemFS(t), Checkpoint{}, Options{PageSize: 4096, RelayoutIdle: 5 * time.Millisecond})
	b, _ := f.Begin()
	b.CreateTree(1)
	for i := 0; i < 40000; i++ {
		b.Put(1, fmt.Appendf(nil, "%08d", i*7919%40009), make([]byte, 60))
	}
	b.Commit()
	deadline := time.Now().Add(10 * time.Second)
	for f.relayouts.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no background relayout after 10s (rewritten %d, resident %d)", f.rewritten.Load(), f.cache.resident())
		}
		time.Sleep(time.Millisecond)
	}
	if err := f.Check(); err != nil {
		t.Fatal(err)
	}
}
