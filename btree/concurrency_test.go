package btree

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
)

// TestReadersSeeTheirVersion rewrites every key of a tree in each batch
// (value = the batch's version) and flushes often, so pages are freed and
// reused quickly, while readers pin versions, sleep through several batches
// and scan: each must see one version only, whole.
func TestReadersSeeTheirVersion(t *testing.T) {
	mem := newMemFS(t)
	f := openTest(t, mem, Checkpoint{}, Options{PageSize: 4096, CacheSize: 64 * 4096, SpillSize: 16 * 4096})
	const keys = 2000
	write := func() {
		b, err := f.Begin()
		if err != nil {
			t.Error(err)
			return
		}
		if _, ok := b.Tree(1); !ok {
			b.CreateTree(1)
		}
		v := binary.BigEndian.AppendUint64(nil, b.Version())
		for i := 0; i < keys; i++ {
			if err := b.Put(1, fmt.Appendf(nil, "key%05d", i), v); err != nil {
				t.Error(err)
			}
		}
		b.Commit()
	}
	write()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				readWholeVersion(t, f, keys)
			}
		}()
	}
	for i := 0; i < 60; i++ {
		write()
		if i%3 == 0 {
			if _, err := f.Flush(func(Checkpoint) error { return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if i%7 == 0 {
			if err := f.Relayout(); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
}

func readWholeVersion(t *testing.T, f *Forest, keys int) {
	rd, err := f.NewReader()
	if err != nil {
		t.Error(err)
		return
	}
	defer rd.Release()
	want := binary.BigEndian.AppendUint64(nil, rd.Version())
	c, err := rd.Cursor(1, Bounds{})
	if err != nil {
		t.Error(err)
		return
	}
	n := 0
	for ok := c.First(); ok; ok = c.Next() {
		v, err := c.Value()
		if err != nil || string(v) != string(want) {
			t.Errorf("reader at version %d saw %x at %q (err %v)", rd.Version(), v, c.Key(), err)
			return
		}
		n++
	}
	if c.Err() != nil || n != keys {
		t.Errorf("reader at version %d scanned %d keys (err %v), want %d", rd.Version(), n, c.Err(), keys)
	}
}
