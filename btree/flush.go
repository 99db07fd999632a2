package btree

import (
	"slices"
)

// Flush makes the current version durable: it writes every page committed
// batches left unwritten, syncs the page file, and calls save with the
// checkpoint describing that version. save must store the checkpoint durably
// (the sop engine writes it to Pebble with a synced batch); only after it
// returns nil may pages that older checkpoints reference be reused. Flush
// returns the checkpoint, or the first error; after an error the forest is
// unchanged and Flush may be retried.
func (f *Forest) Flush(save func(Checkpoint) error) (Checkpoint, error) {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if f.closed.Load() {
		return Checkpoint{}, ErrClosed
	}
	f.spillFailed = false
	if err := f.writeDirty(); err != nil {
		return Checkpoint{}, err
	}
	if f.unsynced {
		if err := f.pf.sync(); err != nil {
			return Checkpoint{}, err
		}
		f.unsynced = false
	}
	cp := f.checkpoint()
	if err := save(cp); err != nil {
		return Checkpoint{}, err
	}
	f.durable = cp.Version
	f.alloc.durableAt(cp.Version)
	f.reclaim()
	return cp, nil
}

// writeDirty writes every page committed batches left unwritten. It does
// not sync. Needs wmu.
func (f *Forest) writeDirty() error {
	if err := f.writePages(f.dirty); err != nil {
		return err
	}
	f.dirty = f.dirty[:0]
	return nil
}

// maxFillGap is the longest run of clean pages writePages rewrites to join
// two runs of dirty pages into one write.
const maxFillGap = 2

// writePages writes those of ids that are dirty and marks them clean. It
// sorts them by id and writes runs of consecutive ids with one call each;
// two runs separated by at most maxFillGap pages are joined by rewriting
// the pages between them when those are clean in the cache: a clean page's
// bytes are already on disk, so writing them again changes nothing, even if
// the write is torn, and one long write costs far less than several short
// ones. ids is sorted in place. Needs wmu.
func (f *Forest) writePages(ids []PageID) error {
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	entries := make([]*entry, 0, len(ids))
	for _, id := range ids {
		if e := f.cache.get(id); e != nil && e.state == stateDirty {
			e.buf.sealChecksum()
			entries = append(entries, e)
		}
	}
	run := make([]page, 0, 64)
	for i := 0; i < len(entries); {
		first := entries[i].buf.id()
		run = append(run[:0], entries[i].buf)
		for i++; i < len(entries); i++ {
			next := entries[i].buf.id()
			if !f.appendGap(&run, first+PageID(len(run)), next) {
				break
			}
			run = append(run, entries[i].buf)
		}
		if err := f.pf.writeRun(first, run); err != nil {
			return err
		}
		f.unsynced = true
	}
	f.cache.mu.Lock()
	for _, e := range entries {
		if e.state == stateDirty {
			f.cache.setStateLocked(e, stateClean)
		}
	}
	f.cache.evict()
	f.cache.mu.Unlock()
	return nil
}

// appendGap appends the clean pages [from, to) to run, and reports whether
// it could: the gap is short and every page in it is clean in the cache.
func (f *Forest) appendGap(run *[]page, from, to PageID) bool {
	if to-from > maxFillGap {
		return false
	}
	n := len(*run)
	for id := from; id < to; id++ {
		e := f.cache.get(id)
		if e == nil || e.state != stateClean {
			*run = (*run)[:n]
			return false
		}
		*run = append(*run, e.buf)
	}
	return true
}

// checkpoint describes the current version. Needs wmu.
func (f *Forest) checkpoint() Checkpoint {
	v := f.cur.Load()
	return Checkpoint{
		Version:   v.seq,
		PageSize:  f.psize,
		HighWater: f.alloc.hw,
		Trees:     sortedTrees(v.trees),
		Free:      f.alloc.unreachable(),
	}
}
