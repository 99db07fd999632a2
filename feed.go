package sop

import (
	"sort"
	"sync"
)

// feed holds a domain's newest change events in memory, in seq order, for
// its watchers, and tells waiters when a seq is applied.
//
// Invariants: events are sorted by seq; every event of a seq in
// (floor, seq] is held and no event of a seq <= floor is; whole seqs are
// evicted, oldest first, once the feed holds more than maxEvents events or
// maxBytes bytes. Publishing never waits for a watcher: a watcher that
// reads too slowly finds its position evicted and is cut off.
type feed struct {
	maxEvents int
	maxBytes  int

	mu     sync.RWMutex
	events []Event       // events[i] is at position base+i
	base   uint64        // position of events[0]; positions never repeat
	bytes  int           // accounted size of events
	floor  uint64        // seqs up to floor are evicted
	seq    uint64        // the last seq published (applied and visible to readers)
	wake   chan struct{} // closed, and replaced, at every publish and at close
	closed bool
}

func newFeed(applied uint64, maxEvents, maxBytes int) *feed {
	return &feed{maxEvents: maxEvents, maxBytes: maxBytes, floor: applied, seq: applied, wake: make(chan struct{})}
}

// eventSize is what an event counts against maxBytes.
func eventSize(ev *Event) int {
	return 64 + len(ev.Store) + len(ev.Key) + len(ev.Value) + len(ev.OldValue)
}

// publish adds evs, the events of seqs up to seq in order, and announces
// seq as applied.
func (f *feed) publish(seq uint64, evs []Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	memos := make([]eventMemo, len(evs))
	for i := range evs {
		f.bytes += eventSize(&evs[i])
		evs[i].memo = &memos[i]
	}
	f.events = append(f.events, evs...)
	for len(f.events) > 0 && (len(f.events) > f.maxEvents || f.bytes > f.maxBytes) {
		f.evictSeq()
	}
	if len(f.events) == 0 {
		f.floor = max(f.floor, seq)
	}
	f.seq = seq
	close(f.wake)
	f.wake = make(chan struct{})
}

// evictSeq drops every event of the oldest held seq.
func (f *feed) evictSeq() {
	s := f.events[0].Seq
	n := 0
	for n < len(f.events) && f.events[n].Seq == s {
		f.bytes -= eventSize(&f.events[n])
		n++
	}
	clear(f.events[:n])
	f.events = f.events[n:]
	f.base += uint64(n)
	f.floor = s
	// The dead head of the array is reclaimed when append next grows it.
}

// close wakes every waiter for the last time.
func (f *feed) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.wake)
	}
}

// position returns the position of the first held event of a seq >= from.
// Call with mu held, and only for from > floor.
func (f *feed) position(from uint64) uint64 {
	i := sort.Search(len(f.events), func(i int) bool { return f.events[i].Seq >= from })
	return f.base + uint64(i)
}

// applied returns the last published seq and a channel closed at the next
// publish.
func (f *feed) applied() (uint64, <-chan struct{}, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.seq, f.wake, f.closed
}
