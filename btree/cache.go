package btree

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The page cache maps page ids to in-memory pages. Lookups are lock-free: a
// two-level table indexed by page id (ids are dense) holds, per id, an
// atomic pointer to the page's bytes (what readers load: one dependent load
// to reach the page) and one to its entry (metadata for the writer and the
// evictor). Insertions, removals and state changes take cache.mu. Eviction
// is CLOCK over the resident entries; only clean entries are evicted.
// Readers set the reference bit only while the cache is near its bound, so
// lookups touch no metadata while everything fits.
//
// Pages a batch allocates live in the cache from the moment they are
// allocated (owner = the batch's version) until they are freed, and are dirty
// until a flush writes them. Readers never reach a page their version does not
// reference, so a batch may install and mutate its pages while readers run.

const chunkBits = 12

type chunk struct {
	pages   [1 << chunkBits]atomic.Pointer[byte] // the first byte of each resident page
	entries [1 << chunkBits]atomic.Pointer[entry]
}

// entry states.
const (
	stateClean  = iota // on disk; may be evicted
	stateDirty         // must be written by the next flush; pinned
	statePinned        // freed before it was written: kept for old readers, never written
)

type entry struct {
	buf   page
	ref   atomic.Bool // CLOCK reference bit
	owner uint64      // version of the batch that allocated it (mutable while that batch runs)
	born  uint64      // version that allocated it; 0 when loaded from disk
	state uint8       // guarded by cache.mu
	pos   int         // index in cache.ring; guarded by cache.mu
}

type cache struct {
	pageSize int
	capacity int // pages

	dir      atomic.Pointer[[]*chunk]
	pressure atomic.Bool // resident pages near capacity: readers keep reference bits

	mu    sync.Mutex
	ring  []PageID // resident ids, for CLOCK
	hand  int
	clean int      // resident entries in stateClean: the ones evict may drop
	bufs  [][]byte // recycled page buffers
}

func newCache(pageSize int, bytes int64) *cache {
	c := &cache{pageSize: pageSize, capacity: int(bytes / int64(pageSize))}
	c.capacity = max(c.capacity, 64)
	d := []*chunk{}
	c.dir.Store(&d)
	return c
}

// page returns the resident page id, or nil: the readers' lookup.
func (c *cache) page(id PageID) page {
	d := *c.dir.Load()
	ci := int(id >> chunkBits)
	if ci >= len(d) || d[ci] == nil {
		return nil
	}
	ch := d[ci]
	i := id & (1<<chunkBits - 1)
	p := ch.pages[i].Load()
	if p == nil {
		return nil
	}
	if c.pressure.Load() {
		if e := ch.entries[i].Load(); e != nil && !e.ref.Load() {
			e.ref.Store(true)
		}
	}
	return unsafe.Slice(p, c.pageSize)
}

// get returns the entry for id, or nil.
func (c *cache) get(id PageID) *entry {
	d := *c.dir.Load()
	ci := int(id >> chunkBits)
	if ci >= len(d) || d[ci] == nil {
		return nil
	}
	e := d[ci].entries[id&(1<<chunkBits-1)].Load()
	if e != nil && c.pressure.Load() && !e.ref.Load() {
		e.ref.Store(true)
	}
	return e
}

// slot is the table position of one page id.
type slot struct {
	ch *chunk
	i  PageID
}

func (s slot) Load() *entry { return s.ch.entries[s.i].Load() }

// Store publishes e (nil: removes the page). The entry is stored before the
// page pointer, so a reader that finds the page finds its entry.
func (s slot) Store(e *entry) {
	if e == nil {
		s.ch.pages[s.i].Store(nil)
		s.ch.entries[s.i].Store(nil)
		return
	}
	s.ch.entries[s.i].Store(e)
	s.ch.pages[s.i].Store(&e.buf[0])
}

// slot returns the table slot for id, growing the table. Needs c.mu.
func (c *cache) slot(id PageID) slot {
	d := *c.dir.Load()
	ci := int(id >> chunkBits)
	if ci >= len(d) {
		nd := make([]*chunk, ci+1, max(ci+1, 2*len(d)))
		copy(nd, d)
		d = nd
		c.dir.Store(&d)
	}
	if d[ci] == nil {
		d[ci] = new(chunk)
	}
	return slot{d[ci], id & (1<<chunkBits - 1)}
}

// insertLoaded installs a clean page read from disk unless another goroutine
// installed one first; it returns the entry in the cache.
func (c *cache) insertLoaded(id PageID, buf page) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slot(id)
	if e := s.Load(); e != nil {
		return e
	}
	e := &entry{buf: buf, state: stateClean}
	c.clean++
	c.add(s, id, e)
	return e
}

// install puts a page a batch just allocated into the cache, replacing any
// stale entry for the id (the id was free, so no reader can hold it).
func (c *cache) install(id PageID, buf page, owner uint64) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slot(id)
	e := &entry{buf: buf, owner: owner, born: owner, state: stateDirty}
	if old := s.Load(); old != nil {
		if old.state == stateClean {
			c.clean--
		}
		e.pos = old.pos
		c.ring[e.pos] = id
		s.Store(e)
		return e
	}
	c.add(s, id, e)
	return e
}

func (c *cache) add(s slot, id PageID, e *entry) {
	e.pos = len(c.ring)
	c.ring = append(c.ring, id)
	s.Store(e)
	if len(c.ring) > c.capacity {
		c.evict()
	}
	c.pressure.Store(len(c.ring) >= c.capacity-c.capacity/8)
}

// evict drops clean entries until the cache is within capacity or nothing
// more can be evicted (every resident page dirty or pinned). Needs c.mu.
func (c *cache) evict() {
	// Two sweeps suffice: the first clears every reference bit it passes.
	limit := 2 * len(c.ring)
	for scanned := 0; len(c.ring) > c.capacity && c.clean > 0 && scanned < limit; scanned++ {
		if c.hand >= len(c.ring) {
			c.hand = 0
		}
		id := c.ring[c.hand]
		s := c.slot(id)
		e := s.Load()
		if e.state != stateClean {
			c.hand++
			continue
		}
		if e.ref.Load() {
			e.ref.Store(false)
			c.hand++
			continue
		}
		c.removeLocked(id, s, e)
	}
}

// removeLocked drops e from the table and the ring. Needs c.mu.
func (c *cache) removeLocked(id PageID, s slot, e *entry) {
	if e.state == stateClean {
		c.clean--
	}
	last := len(c.ring) - 1
	moved := c.ring[last]
	c.ring[e.pos] = moved
	if moved != id {
		c.slot(moved).Load().pos = e.pos
	}
	c.ring = c.ring[:last]
	s.Store(nil)
}

// drop removes id's entry, if any. When recycle is set no reader can hold
// the buffer any longer and it is kept for reuse.
func (c *cache) drop(id PageID, recycle bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slot(id)
	e := s.Load()
	if e == nil {
		return
	}
	c.removeLocked(id, s, e)
	if recycle && len(c.bufs) < 1024 {
		c.bufs = append(c.bufs, e.buf)
	}
}

// newBuf returns a page-sized buffer, recycled when one is available. Its
// contents are undefined.
func (c *cache) newBuf() page {
	c.mu.Lock()
	if n := len(c.bufs); n > 0 {
		b := c.bufs[n-1]
		c.bufs = c.bufs[:n-1]
		c.mu.Unlock()
		return b
	}
	c.mu.Unlock()
	return make(page, c.pageSize)
}

// setState changes an entry's state under the cache lock.
func (c *cache) setState(e *entry, state uint8) {
	c.mu.Lock()
	c.setStateLocked(e, state)
	c.mu.Unlock()
}

// setStateLocked changes an entry's state. Needs c.mu.
func (c *cache) setStateLocked(e *entry, state uint8) {
	if e.state == stateClean {
		c.clean--
	}
	if state == stateClean {
		c.clean++
	}
	e.state = state
}

// resident is the number of pages in memory.
func (c *cache) resident() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ring)
}

// check verifies the cache's bookkeeping: every ring entry is resident at
// its position and the clean count is exact.
func (c *cache) check() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	clean := 0
	for i, id := range c.ring {
		e := c.slot(id).Load()
		if e == nil || e.pos != i {
			return fmt.Errorf("btree: page cache ring slot %d (page %d) is not resident there", i, id)
		}
		if e.state == stateClean {
			clean++
		}
	}
	if clean != c.clean {
		return fmt.Errorf("btree: page cache counts %d clean pages, holds %d", c.clean, clean)
	}
	return nil
}

// unsafePointer is the address of a page's first byte, for tests of layout.
func unsafePointer(p page) unsafe.Pointer { return unsafe.Pointer(&p[0]) }
