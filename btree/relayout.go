package btree

import (
	"time"
)

// Relayout: a tree built by random writes leaves its page buffers scattered
// through memory, and a scan then pays a cache miss to reach every leaf.
// Relayout copies the resident pages of every tree into fresh slabs in key
// order, so a scan streams through memory (docs/BENCHMARKS.md measured 1.5
// to 2 times faster scans). Readers are not disturbed: each page's bytes are
// the same, readers holding the old buffers keep them, and later lookups
// find the copies. By default a background goroutine runs it once the writer
// has been idle for Options.RelayoutIdle after rewriting at least half as
// many pages as the cache holds.

// slabPages is how many pages one relayout slab holds.
const slabPages = 256

// DefaultRelayoutIdle is the writer idle time after which a due relayout
// runs in the background.
const DefaultRelayoutIdle = 200 * time.Millisecond

// Relayout copies every resident page of every tree into fresh memory in key
// order now. It waits for an open batch to end.
func (f *Forest) Relayout() error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if f.closed.Load() {
		return ErrClosed
	}
	f.relayoutLocked()
	return nil
}

// relayoutLocked does the work. Needs wmu.
func (f *Forest) relayoutLocked() {
	var ids []PageID
	for _, t := range sortedTrees(f.cur.Load().trees) {
		ids = f.residentInKeyOrder(t.Root, ids)
	}
	for start := 0; start < len(ids); start += slabPages {
		f.copyToSlab(ids[start:min(start+slabPages, len(ids))])
	}
	f.rewritten.Store(0)
	f.relayouts.Add(1)
}

// residentInKeyOrder appends the resident branch and leaf pages of the
// subtree at id, in key order (a branch before its children). A subtree
// whose root is not resident is skipped.
func (f *Forest) residentInKeyOrder(id PageID, ids []PageID) []PageID {
	e := f.cache.get(id)
	if e == nil {
		return ids
	}
	ids = append(ids, id)
	if p := e.buf; p.typ() == typeBranch {
		for i := 0; i < p.count(); i++ {
			ids = f.residentInKeyOrder(p.childAt(i), ids)
		}
	}
	return ids
}

// copyToSlab copies the pages ids into one new slab, in order, and points
// the cache at the copies.
func (f *Forest) copyToSlab(ids []PageID) {
	c := f.cache
	slab := make([]byte, len(ids)*f.psize)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, id := range ids {
		s := c.slot(id)
		e := s.Load()
		if e == nil || e.state == statePinned {
			continue
		}
		buf := page(slab[i*f.psize : (i+1)*f.psize : (i+1)*f.psize])
		copy(buf, e.buf)
		ne := &entry{buf: buf, owner: e.owner, born: e.born, state: e.state, pos: e.pos}
		ne.ref.Store(e.ref.Load())
		s.Store(ne)
	}
}

// relayoutDue reports whether enough pages were rewritten since the last
// relayout for one to pay off.
func (f *Forest) relayoutDue() bool {
	resident := f.cache.resident()
	return resident >= slabPages && f.rewritten.Load() >= int64(resident/2)
}

// maintain runs due relayouts while the writer is idle, until stop closes.
func (f *Forest) maintain(idle time.Duration, stop <-chan struct{}) {
	defer close(f.maintainDone)
	t := time.NewTicker(idle / 2)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, f.lastCommit.Load())) < idle || !f.relayoutDue() {
			continue
		}
		if f.wmu.TryLock() {
			if !f.closed.Load() {
				f.relayoutLocked()
			}
			f.wmu.Unlock()
		}
	}
}
