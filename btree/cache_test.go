package btree

import (
	"bytes"
	"fmt"
	"testing"
)

// TestCacheBounded writes a tree many times larger than the cache and
// checks that, once flushed, reading all of it keeps the cache within its
// bound.
func TestCacheBounded(t *testing.T) {
	const pageSize, cachePages = 4096, 64
	f := openTest(t, newMemFS(t), Checkpoint{}, Options{PageSize: pageSize, CacheSize: cachePages * pageSize, SpillSize: 32 * pageSize})
	val := bytes.Repeat([]byte{'v'}, 200)
	for batch := 0; batch < 20; batch++ {
		b, _ := f.Begin()
		if batch == 0 {
			b.CreateTree(1)
		}
		for i := 0; i < 1000; i++ {
			if err := b.Put(1, fmt.Appendf(nil, "%04d-%06d", i, batch), val); err != nil {
				t.Fatal(err)
			}
		}
		b.Commit()
		if n := f.cache.resident(); n > cachePages+f.spill+64 {
			t.Fatalf("batch %d: %d pages resident, bound %d plus spill %d", batch, n, cachePages, f.spill)
		}
	}
	if _, err := f.Flush(func(Checkpoint) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if f.alloc.hw < 10*cachePages {
		t.Fatalf("tree has only %d pages; the test needs it far larger than the cache", f.alloc.hw)
	}
	if err := scanAll(f); err != nil {
		t.Fatal(err)
	}
	if n := f.cache.resident(); n > cachePages {
		t.Fatalf("%d pages resident after a full scan, bound %d", n, cachePages)
	}
}
