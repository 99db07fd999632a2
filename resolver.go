package sop

import (
	"bytes"
	"sort"

	"github.com/sopd/sop/journal"
)

// readSet is what a transaction read: point keys, scanned ranges and the
// stores whose catalog entry it looked at. The leader's resolver checks it
// against everything committed after the transaction's read version.
type readSet struct {
	points map[string]struct{} // storeKey(store, key)
	ranges []keyRange
	stores map[string]struct{}
}

// keyRange is [start, end) in a store; a nil end is open.
type keyRange struct {
	store      string
	start, end []byte
}

// storeKey joins a store name and a key; store names hold no NUL byte.
func storeKey(store string, key []byte) string {
	return store + "\x00" + string(key)
}

func (r *readSet) empty() bool {
	return r == nil || len(r.points) == 0 && len(r.ranges) == 0 && len(r.stores) == 0
}

func (r *readSet) addStore(store string) {
	if r.stores == nil {
		r.stores = map[string]struct{}{}
	}
	r.stores[store] = struct{}{}
}

func (r *readSet) addPoint(store string, key []byte) {
	if r.points == nil {
		r.points = map[string]struct{}{}
	}
	r.points[storeKey(store, key)] = struct{}{}
	r.addStore(store)
}

func (r *readSet) addRange(store string, start, end []byte) {
	r.ranges = append(r.ranges, keyRange{store: store, start: bytes.Clone(start), end: bytes.Clone(end)})
	r.addStore(store)
}

// coversKey reports whether writing key in store touches something r read.
func (r *readSet) coversKey(store string, key []byte) bool {
	if _, ok := r.points[storeKey(store, key)]; ok {
		return true
	}
	for _, kr := range r.ranges {
		if kr.store == store && bytes.Compare(key, kr.start) >= 0 && (kr.end == nil || bytes.Compare(key, kr.end) < 0) {
			return true
		}
	}
	return false
}

// coversStore reports whether r read anything of store, which creating or
// dropping it changes.
func (r *readSet) coversStore(store string) bool {
	_, ok := r.stores[store]
	return ok
}

// write is one thing a committed entry changed: a key, or (whole) a store.
type write struct {
	store string
	key   []byte // nil: the store was created or dropped
}

// committed is the write set of one entry.
type committed struct {
	seq    uint64
	writes []write
}

// history is the leader's record of recent write sets, in seq order. A
// transaction whose read version is below floor cannot be checked and is
// rejected as a conflict (its retry reads at a newer version).
//
// Invariant: every entry with seq in (floor, last applied] is in log.
type history struct {
	floor  uint64
	log    []committed
	writes int // total writes in log
	limit  int // writes kept before the oldest entries are dropped
}

func newHistory(floor uint64, limit int) *history {
	return &history{floor: floor, limit: limit}
}

// add records entry e committed at seq (seqs must ascend).
func (h *history) add(seq uint64, e *journal.Entry) {
	ws := make([]write, 0, len(e.Ops))
	for _, op := range e.Ops {
		switch op.Kind {
		case journal.OpPut, journal.OpDelete:
			ws = append(ws, write{store: op.Store, key: op.Key})
		default:
			ws = append(ws, write{store: op.Store})
		}
	}
	h.log = append(h.log, committed{seq: seq, writes: ws})
	h.writes += len(ws)
	for h.writes > h.limit && len(h.log) > 1 {
		h.floor = h.log[0].seq
		h.writes -= len(h.log[0].writes)
		h.log[0] = committed{}
		h.log = h.log[1:]
	}
}

// truncate forgets entries above seq: a group that was not appended.
func (h *history) truncate(seq uint64) {
	i := sort.Search(len(h.log), func(i int) bool { return h.log[i].seq > seq })
	for _, c := range h.log[i:] {
		h.writes -= len(c.writes)
	}
	clear(h.log[i:])
	h.log = h.log[:i]
}

// conflicts reports whether anything committed after readVersion touches
// what r read.
func (h *history) conflicts(readVersion uint64, r *readSet) bool {
	if r.empty() {
		return false
	}
	if readVersion < h.floor {
		return true
	}
	i := sort.Search(len(h.log), func(i int) bool { return h.log[i].seq > readVersion })
	for _, c := range h.log[i:] {
		for _, w := range c.writes {
			if w.key == nil && r.coversStore(w.store) || w.key != nil && r.coversKey(w.store, w.key) {
				return true
			}
		}
	}
	return false
}

// recentIDsKept is how many recent transaction ids the leader remembers.
const recentIDsKept = 1 << 16

// recentIDs remembers the seqs of the last n transaction ids applied, so
// that a retried transaction whose first attempt committed is answered
// with ErrAlreadyCommitted even when the journal would not see it as a
// duplicate (a Txn whose retry takes the other branch appends nothing).
type recentIDs struct {
	seqs map[string]uint64
	ring []string
	next int
}

func newRecentIDs(n int) *recentIDs {
	return &recentIDs{seqs: make(map[string]uint64, n), ring: make([]string, n)}
}

func (r *recentIDs) add(id string, seq uint64) {
	if old := r.ring[r.next]; old != "" && r.seqs[old] <= seq {
		delete(r.seqs, old)
	}
	r.ring[r.next] = id
	r.next = (r.next + 1) % len(r.ring)
	r.seqs[id] = seq
}

func (r *recentIDs) lookup(id string) (uint64, bool) {
	seq, ok := r.seqs[id]
	return seq, ok
}
