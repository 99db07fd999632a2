package btree

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sopd/sop/vfs"
)

// PageID is a page's index in the page file.
type PageID uint64

// TreeID names one tree (a store) in a forest.
type TreeID uint64

// Size limits.
const (
	MinPageSize      = 4 << 10
	MaxPageSize      = 64 << 10
	DefaultPageSize  = 8 << 10
	DefaultCacheSize = 64 << 20
	MaxKeySize       = 4 << 10
	MaxValueSize     = 16 << 20
)

// Options configure a Forest. The zero value is usable.
type Options struct {
	// PageSize in bytes: a power of two in [MinPageSize, MaxPageSize]. Zero
	// adopts the size of an existing file, or DefaultPageSize for a new one.
	PageSize int
	// CacheSize bounds the page cache in bytes (DefaultCacheSize when zero).
	// Pages written by batches but not yet flushed stay in memory on top of
	// it until a commit spills them (see SpillSize).
	CacheSize int64
	// SpillSize: when the unwritten pages of committed batches exceed this
	// many bytes, Commit writes them to the page file (without syncing) so
	// memory stays bounded. Zero means CacheSize/2.
	SpillSize int64
	// FS is the file system (vfs.Default when nil).
	FS vfs.FS
	// RelayoutIdle: after heavy rewriting, once no batch has committed for
	// this long, a background goroutine copies the resident pages into key
	// order (see Forest.Relayout). Zero means DefaultRelayoutIdle; a
	// negative value turns the background relayout off.
	RelayoutIdle time.Duration
}

// TreeRoot describes one tree of a version.
type TreeRoot struct {
	ID    TreeID
	Root  PageID
	Count uint64 // number of keys
}

// version is one published, immutable state of every tree.
type version struct {
	seq   uint64
	trees map[TreeID]TreeRoot
}

// Forest is a page file holding many copy-on-write B+trees. One batch writes
// at a time; any number of readers run concurrently, each on the version it
// pinned.
type Forest struct {
	path  string
	fs    vfs.FS
	pf    *pageFile
	psize int
	cache *cache
	spill int

	wmu         sync.Mutex // held by the open batch, Flush, Check and Close
	alloc       *allocator // guarded by wmu
	durable     uint64     // version of the last saved checkpoint; guarded by wmu
	dirty       []PageID   // published pages not yet written; guarded by wmu
	spillFailed bool       // a commit's spill failed: no more spills until the next Flush, which writes (and reports); guarded by wmu
	unsynced    bool       // pages were written since the last sync; guarded by wmu
	scratch     []byte     // page-sized staging buffer; guarded by wmu
	cur         atomic.Pointer[version]
	closed      atomic.Bool

	rewritten    atomic.Int64 // pages batches wrote since the last relayout
	lastCommit   atomic.Int64 // Unix nanoseconds of the last commit
	relayouts    atomic.Int64 // relayouts done, for tests
	stopMaintain chan struct{}
	maintainDone chan struct{}

	rmu     sync.Mutex
	readers map[uint64]int // pinned version -> reader count
}

// Open opens the page file at path in the state described by cp, a
// checkpoint returned by an earlier Flush; the zero Checkpoint opens an empty
// forest (creating the file when missing). Pages the file holds beyond what
// cp references are free space.
func Open(path string, cp Checkpoint, opts Options) (*Forest, error) {
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	if opts.PageSize != 0 {
		if err := checkPageSize(opts.PageSize); err != nil {
			return nil, err
		}
	}
	if cp.PageSize != 0 && opts.PageSize != 0 && cp.PageSize != opts.PageSize {
		return nil, fmt.Errorf("%w: checkpoint has %d-byte pages, options ask for %d", ErrBadCheckpoint, cp.PageSize, opts.PageSize)
	}
	if opts.CacheSize < 0 || opts.SpillSize < 0 {
		return nil, fmt.Errorf("%w: negative cache or spill size", ErrBadOptions)
	}
	pf, err := openPageFile(opts.FS, path, max(opts.PageSize, cp.PageSize))
	if err != nil {
		return nil, err
	}
	if err := cp.validate(pf.pageSize); err != nil {
		pf.f.Close()
		return nil, err
	}
	f := newForest(path, opts, pf, cp)
	if idle := opts.RelayoutIdle; idle >= 0 {
		if idle == 0 {
			idle = DefaultRelayoutIdle
		}
		f.stopMaintain, f.maintainDone = make(chan struct{}), make(chan struct{})
		go f.maintain(idle, f.stopMaintain)
	}
	return f, nil
}

func newForest(path string, opts Options, pf *pageFile, cp Checkpoint) *Forest {
	cacheSize := opts.CacheSize
	if cacheSize == 0 {
		cacheSize = DefaultCacheSize
	}
	spill := opts.SpillSize
	if spill == 0 {
		spill = cacheSize / 2
	}
	f := &Forest{
		path:    path,
		fs:      opts.FS,
		pf:      pf,
		psize:   pf.pageSize,
		cache:   newCache(pf.pageSize, cacheSize),
		spill:   int(max(1, spill/int64(pf.pageSize))),
		alloc:   newAllocator(cp.HighWater, cp.Free),
		durable: cp.Version,
		scratch: make([]byte, pf.pageSize),
		readers: map[uint64]int{},
	}
	v := &version{seq: cp.Version, trees: make(map[TreeID]TreeRoot, len(cp.Trees))}
	for _, t := range cp.Trees {
		v.trees[t.ID] = t
	}
	f.cur.Store(v)
	return f
}

// PageSize is the page file's page size.
func (f *Forest) PageSize() int { return f.psize }

// Version is the version the last committed batch published.
func (f *Forest) Version() uint64 { return f.cur.Load().seq }

// Close closes the page file. Unflushed batches are lost (the journal above
// replays them). Readers must be released first.
func (f *Forest) Close() error {
	f.stopBackground()
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if f.closed.Swap(true) {
		return ErrClosed
	}
	return f.pf.f.Close()
}

// stopBackground stops the relayout goroutine and waits for it.
func (f *Forest) stopBackground() {
	f.wmu.Lock()
	stop, done := f.stopMaintain, f.maintainDone
	f.stopMaintain = nil
	f.wmu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}

// pin registers a reader of the current version.
func (f *Forest) pin() *version {
	f.rmu.Lock()
	v := f.cur.Load()
	f.readers[v.seq]++
	f.rmu.Unlock()
	return v
}

func (f *Forest) unpin(v *version) {
	f.rmu.Lock()
	if f.readers[v.seq]--; f.readers[v.seq] == 0 {
		delete(f.readers, v.seq)
	}
	f.rmu.Unlock()
}

// oldestReader is the oldest version any reader may still use.
func (f *Forest) oldestReader() uint64 {
	f.rmu.Lock()
	defer f.rmu.Unlock()
	oldest := f.cur.Load().seq
	for v := range f.readers {
		oldest = min(oldest, v)
	}
	return oldest
}

// reclaim returns pages that no reader can reach to the free list. Needs wmu.
func (f *Forest) reclaim() {
	for _, id := range f.alloc.readersGone(f.oldestReader()) {
		f.cache.drop(id, true)
	}
}

// entry returns the cache entry of page id, reading it from disk on a miss.
func (f *Forest) entry(id PageID) (*entry, error) {
	if e := f.cache.get(id); e != nil {
		return e, nil
	}
	if id < firstDataPage || id >= PageID(math.MaxInt64/int64(f.psize)) {
		return nil, corruptf(id, "page id out of range")
	}
	buf := make(page, f.psize)
	if err := f.pf.read(id, buf); err != nil {
		return nil, err
	}
	return f.cache.insertLoaded(id, buf), nil
}
