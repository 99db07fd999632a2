package btree

import (
	"math/bits"
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
// Placement: free pages are taken by a cursor that sweeps up through the
// file, so the pages one flush writes lie close together in ascending order
// and are written in few large runs (see Forest.writePages). While less than
// sweepFreeFraction of the file is free, new pages are appended at the end
// instead: the file keeps that much slack so the region ahead of the cursor
// is dense with free pages. The cost is space: the file is up to
// 1/(1-sweepFreeFraction) times the live data, plus pages awaiting reuse.
//
// Invariant: free, the pending lists, and the pages reachable from the
// current version are disjoint, and together with the pages owned by an open
// batch they cover [firstDataPage, hw).
type allocator struct {
	free           bitmap // bit id set: page id is free now
	nfree          int
	cursor         PageID  // the next allocation takes the first free id >= cursor
	pendingReaders []freed // waiting for old readers only
	pendingDurable []freed // waiting for a newer durable checkpoint, then readers
	hw             PageID  // high-water mark: ids >= hw were never used
}

type freed struct {
	version uint64
	ids     []PageID
}

const firstDataPage PageID = 1

// sweepFreeFraction is the share of the file kept free (as numerator and
// denominator): below it, allocation appends instead of reusing.
const (
	sweepFreeNum = 1
	sweepFreeDen = 4
)

func newAllocator(hw PageID, free []PageID) *allocator {
	a := &allocator{hw: max(hw, firstDataPage), cursor: firstDataPage}
	a.release(free...)
	return a
}

// alloc returns a free id, extending the file when too little is free.
func (a *allocator) alloc() PageID {
	if a.nfree > 0 && a.nfree*sweepFreeDen >= int(a.hw)*sweepFreeNum {
		id, ok := a.free.next(a.cursor, a.hw)
		if !ok {
			id, ok = a.free.next(firstDataPage, a.hw)
		}
		if ok {
			a.free.clear(id)
			a.nfree--
			a.cursor = id + 1
			return id
		}
	}
	id := a.hw
	a.hw++
	return id
}

// release returns ids to the free list at once.
func (a *allocator) release(ids ...PageID) {
	for _, id := range ids {
		if invariants && a.free.has(id) {
			panic("btree: page freed twice")
		}
		a.free.set(id)
	}
	a.nfree += len(ids)
}

// deferFree adds the pages a batch freed when publishing version v.
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
	out := make([]PageID, 0, a.nfree)
	for id, ok := a.free.next(firstDataPage, a.hw); ok; id, ok = a.free.next(id+1, a.hw) {
		out = append(out, id)
	}
	for _, f := range a.pendingReaders {
		out = append(out, f.ids...)
	}
	for _, f := range a.pendingDurable {
		out = append(out, f.ids...)
	}
	slices.Sort(out)
	return out
}

// bitmap is a growable set of page ids.
type bitmap []uint64

func (b *bitmap) set(id PageID) {
	w := int(id / 64)
	if w >= len(*b) {
		*b = append(*b, make([]uint64, w+1-len(*b)+len(*b)/4)...)
	}
	(*b)[w] |= 1 << (id % 64)
}

func (b bitmap) clear(id PageID) { b[id/64] &^= 1 << (id % 64) }

func (b bitmap) has(id PageID) bool {
	w := int(id / 64)
	return w < len(b) && b[w]&(1<<(id%64)) != 0
}

// next returns the first id in [from, limit) in the set.
func (b bitmap) next(from, limit PageID) (PageID, bool) {
	w := int(from / 64)
	if w >= len(b) {
		return 0, false
	}
	word := b[w] &^ (1<<(from%64) - 1)
	for {
		if word != 0 {
			id := PageID(w*64 + bits.TrailingZeros64(word))
			return id, id < limit
		}
		if w++; w >= len(b) || PageID(w*64) >= limit {
			return 0, false
		}
		word = b[w]
	}
}
