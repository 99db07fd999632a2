package btree

import (
	"slices"
)

// allocator tracks which page ids may be handed out.
//
// A page freed by the batch that publishes version w was reachable in
// versions < w. It may be reused once
//   - no reader holds a version < w, and
//   - the durable checkpoint does not reference it: it was born after that
//     checkpoint's version, or a checkpoint at version >= w has been saved.
//
// Invariant: free, the pending lists, and the pages reachable from the
// current version are disjoint, and together with the pages owned by an open
// batch they cover [firstDataPage, hw).
type allocator struct {
	free           []PageID // sorted descending: the lowest id is popped first
	pendingReaders []freed  // waiting for old readers only
	pendingDurable []freed  // waiting for a newer durable checkpoint, then readers
	hw             PageID   // high-water mark: ids >= hw were never used
}

type freed struct {
	version uint64
	ids     []PageID
}

const firstDataPage PageID = 1

func newAllocator(hw PageID, free []PageID) *allocator {
	a := &allocator{hw: max(hw, firstDataPage)}
	a.free = slices.Clone(free)
	slices.Sort(a.free)
	slices.Reverse(a.free)
	return a
}

// alloc returns a free id, extending the file when none is free.
func (a *allocator) alloc() PageID {
	if n := len(a.free); n > 0 {
		id := a.free[n-1]
		a.free = a.free[:n-1]
		return id
	}
	id := a.hw
	a.hw++
	return id
}

// release returns ids to the free list at once.
func (a *allocator) release(ids ...PageID) {
	if len(ids) == 0 {
		return
	}
	a.free = append(a.free, ids...)
	slices.Sort(a.free)
	slices.Reverse(a.free)
}

// defer adds the pages a batch freed when publishing version v.
func (a *allocator) deferFree(v uint64, readersOnly, durable []PageID) {
	if len(readersOnly) > 0 {
		a.pendingReaders = append(a.pendingReaders, freed{v, readersOnly})
	}
	if len(durable) > 0 {
		a.pendingDurable = append(a.pendingDurable, freed{v, durable})
	}
}

// durableAt moves pages no longer referenced by any checkpoint once a
// checkpoint at version v is durable.
func (a *allocator) durableAt(v uint64) {
	keep := a.pendingDurable[:0]
	for _, f := range a.pendingDurable {
		if f.version <= v {
			a.pendingReaders = append(a.pendingReaders, f)
		} else {
			keep = append(keep, f)
		}
	}
	clear(a.pendingDurable[len(keep):])
	a.pendingDurable = keep
}

// readersGone frees pending pages no reader can reach: those freed at a
// version <= oldest, the oldest version a reader holds. It returns the ids
// freed so the caller can drop them from the cache.
func (a *allocator) readersGone(oldest uint64) []PageID {
	var out []PageID
	keep := a.pendingReaders[:0]
	for _, f := range a.pendingReaders {
		if f.version <= oldest {
			out = append(out, f.ids...)
		} else {
			keep = append(keep, f)
		}
	}
	clear(a.pendingReaders[len(keep):])
	a.pendingReaders = keep
	a.release(out...)
	return out
}

// unreachable lists, sorted ascending, every id below hw that the current
// version does not reference: what a checkpoint records as free.
func (a *allocator) unreachable() []PageID {
	out := slices.Clone(a.free)
	for _, f := range a.pendingReaders {
		out = append(out, f.ids...)
	}
	for _, f := range a.pendingDurable {
		out = append(out, f.ids...)
	}
	slices.Sort(out)
	return out
}
