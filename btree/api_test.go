package btree

import (
	"bytes"
	"errors"
	"testing"
)

func TestInputErrors(t *testing.T) {
	f := openTest(t, newMemFS(t), Checkpoint{}, Options{})
	b, _ := f.Begin()
	if err := b.Put(1, []byte("k"), nil); !errors.Is(err, ErrTreeNotFound) {
		t.Fatalf("put into a missing tree: %v", err)
	}
	b.CreateTree(1)
	if err := b.CreateTree(1); !errors.Is(err, ErrTreeExists) {
		t.Fatalf("create twice: %v", err)
	}
	if err := b.Put(1, make([]byte, MaxKeySize+1), nil); !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("big key: %v", err)
	}
	if err := b.Put(1, []byte("k"), make([]byte, MaxValueSize+1)); !errors.Is(err, ErrValueTooLarge) {
		t.Fatalf("big value: %v", err)
	}
	// The largest key and value are accepted.
	big := bytes.Repeat([]byte{'k'}, MaxKeySize)
	val := bytes.Repeat([]byte{'v'}, MaxValueSize)
	if err := b.Put(1, big, val); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := b.Get(1, big); err != nil || !ok || !bytes.Equal(got, val) {
		t.Fatalf("get the largest item: ok=%v err=%v", ok, err)
	}
	if ok, err := b.Delete(1, []byte("absent")); ok || err != nil {
		t.Fatalf("delete absent: %v %v", ok, err)
	}
	b.Commit()
	if err := b.Put(1, []byte("k"), nil); !errors.Is(err, ErrBatchDone) {
		t.Fatalf("put after commit: %v", err)
	}
	if err := b.Commit(); !errors.Is(err, ErrBatchDone) {
		t.Fatalf("commit twice: %v", err)
	}
	rd, _ := f.NewReader()
	rd.Release()
	if _, _, err := rd.Get(1, []byte("k")); !errors.Is(err, ErrClosed) {
		t.Fatalf("get after release: %v", err)
	}
	if err := f.Check(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := f.Begin(); !errors.Is(err, ErrClosed) {
		t.Fatalf("begin after close: %v", err)
	}
	if _, err := f.Flush(func(Checkpoint) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("flush after close: %v", err)
	}
}

// TestDeleteAllShrinks deletes every key and checks that the tree collapses
// to an empty root and every other page returns to the free list.
func TestDeleteAllShrinks(t *testing.T) {
	f := openTest(t, newMemFS(t), Checkpoint{}, Options{PageSize: 4096})
	g := gen{r: newRand(t), pageSize: 4096}
	m := model{1: {}}
	b, _ := f.Begin()
	b.CreateTree(1)
	for i := 0; i < 5000; i++ {
		k, v := g.key(), g.value()
		b.Put(1, k, v)
		m[1][string(k)] = v
	}
	b.Commit()
	b, _ = f.Begin()
	for k := range m[1] {
		if ok, err := b.Delete(1, []byte(k)); !ok || err != nil {
			t.Fatalf("delete %q: %v %v", short(k), ok, err)
		}
	}
	b.Commit()
	if _, err := f.Flush(func(Checkpoint) error { return nil }); err != nil {
		t.Fatal(err)
	}
	b, _ = f.Begin() // reclaims what the flush released
	b.Abort()
	if free := f.alloc.nfree; free != int(f.alloc.hw-firstDataPage)-1 {
		t.Fatalf("%d of %d pages free after deleting everything, want all but the root", free, f.alloc.hw-firstDataPage)
	}
}
