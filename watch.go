package sop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/sopd/sop/journal"
)

// Errors of Watch.
var (
	// ErrCompacted: the position asked for is no longer available: the
	// journal was purged below it, or (for WatchOptions.OldValues) the
	// node's in-memory history no longer reaches back to it. The error is a
	// *CompactedError naming the first seq that can be asked for.
	ErrCompacted = errors.New("sop: position compacted")
	// ErrWatcherBehind: a watcher fell so far behind the commits that the
	// node's in-memory history no longer holds what it has not read. Its
	// error is a *BehindError naming the seq to resume from.
	ErrWatcherBehind = errors.New("sop: watcher fell behind")
)

// CompactedError is the error of a watch (or read) from a position that is
// gone. It wraps ErrCompacted.
type CompactedError struct {
	Domain   string
	From     uint64 // the seq asked for
	FirstSeq uint64 // the first seq that can be asked for now
	Reason   string // what removed it
	Snapshot string // the newest snapshot's ID, to restore from; empty when there is none
}

func (e *CompactedError) Error() string {
	return fmt.Sprintf("%v: domain %s: seq %d is gone (%s); the first available seq is %d", ErrCompacted, e.Domain, e.From, e.Reason, e.FirstSeq)
}

// Unwrap makes errors.Is(err, ErrCompacted) true.
func (e *CompactedError) Unwrap() error { return ErrCompacted }

// BehindError ends a watcher that fell too far behind. Every event up to
// ResumeFrom-1 was delivered; watching again from ResumeFrom loses nothing.
type BehindError struct {
	Domain     string
	ResumeFrom uint64
}

func (e *BehindError) Error() string {
	return fmt.Sprintf("%v: domain %s: the watcher read too slowly and was cut off; watch again from seq %d", ErrWatcherBehind, e.Domain, e.ResumeFrom)
}

// Unwrap makes errors.Is(err, ErrWatcherBehind) true.
func (e *BehindError) Unwrap() error { return ErrWatcherBehind }

// EventKind says what an Event did.
type EventKind string

// Event kinds; the strings are what the HTTP API sends as "op".
const (
	EventPut         EventKind = "put"
	EventDelete      EventKind = "delete"
	EventCreateStore EventKind = "create_store" // Key and Value empty
	EventDropStore   EventKind = "drop_store"   // Key and Value empty; the store's items are gone with it
)

// Event is one change of a committed transaction. Events of one
// transaction share its Seq and come in the order of its journal entry's
// ops (a Txn's in the order given; an Update's by store, then key). A delete
// of an item that did not exist is not a change and has no event. The
// slices are shared between watchers: do not modify them.
type Event struct {
	Seq      uint64
	Store    string
	Kind     EventKind
	Key      []byte // put, delete
	Value    []byte // put
	OldValue []byte // with WatchOptions.OldValues: the value a put or delete replaced; nil when the item did not exist
	Existed  bool   // with WatchOptions.OldValues: the item existed before this change

	memo *eventMemo // shared by every watcher's copy of a feed event
}

// eventMemo keeps an event's encodings (see Event.Encoded).
type eventMemo struct {
	enc [EncodedVariants]atomic.Pointer[[]byte]
}

// EncodedVariants is how many encodings of one event Encoded keeps.
const EncodedVariants = 2

// Encoded returns encode's result for the event, computing it once per
// event and variant (0 to EncodedVariants-1) while the event is in the
// node's memory, so a server sending one change to many watchers encodes
// it once. encode must depend only on the event and the variant, and the
// bytes it returns must not be modified afterwards. Events read from the
// journal (and other variants) are encoded on every call.
func (e Event) Encoded(variant int, encode func() ([]byte, error)) ([]byte, error) {
	if e.memo == nil || variant < 0 || variant >= EncodedVariants {
		return encode()
	}
	slot := &e.memo.enc[variant]
	if p := slot.Load(); p != nil {
		return *p, nil
	}
	b, err := encode()
	if err == nil {
		slot.Store(&b)
	}
	return b, err
}

// WatchOptions choose where a watch starts and what it delivers.
type WatchOptions struct {
	// From is the first seq to deliver; 0 means changes committed after
	// the call. A seq the journal no longer holds is ErrCompacted.
	From uint64
	// Store, when set, delivers only that store's events.
	Store string
	// Prefix, when set, delivers only put and delete events whose key
	// starts with it (and no store events).
	Prefix []byte
	// OldValues adds each put's and delete's previous value. The node keeps
	// them in memory for its newest events only (Options.WatchHistory), so
	// an older From is ErrCompacted.
	OldValues bool
}

// Watcher delivers the events of one watch in seq order, with no gap and
// no duplicate. It is not safe for concurrent use; Close it when done.
//
// A watcher reads from the journal while its position is older than the
// domain's in-memory feed, and from the feed from then on.
type Watcher struct {
	d    *domain
	opts WatchOptions
	next uint64 // the first seq not yet read into buf
	pos  uint64 // the feed position to read next; valid when live
	live bool   // reading the feed (else the journal)
	buf  []Event
	i    int // buf[i:] is not yet delivered
	err  error
}

// watchChunk is how many journal records, or feed events, a watcher reads
// at a time.
const watchChunk = 256

// Watch starts a change stream of domain. It fails at once with a
// *CompactedError when opts.From is gone.
func (db *DB) Watch(ctx context.Context, domain string, opts WatchOptions) (*Watcher, error) {
	d, err := db.domain(domain)
	if err != nil {
		return nil, err
	}
	if opts.Store != "" {
		if err := journal.CheckStoreName(opts.Store); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadName, err)
		}
	}
	opts.Prefix = bytes.Clone(opts.Prefix)
	w := &Watcher{d: d, opts: opts}
	if opts.From != 0 {
		// A position below the journal's first seq is gone, even while
		// this node's feed still holds it: every node answers alike.
		first, _, err := d.journal.Bounds(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if journal.Seq(opts.From) < first {
			return nil, &CompactedError{Domain: d.name, From: opts.From, FirstSeq: uint64(first), Reason: "the journal was truncated below it", Snapshot: d.newestSnapshot(ctx)}
		}
	}
	f := d.feed
	f.mu.RLock()
	floor, seq := f.floor, f.seq
	if opts.From == 0 {
		w.next, w.pos, w.live = seq+1, f.base+uint64(len(f.events)), true
	} else if opts.From > floor {
		w.next, w.pos, w.live = opts.From, f.position(opts.From), true
	}
	f.mu.RUnlock()
	if w.live {
		return w, nil
	}
	if opts.OldValues {
		return nil, &CompactedError{Domain: d.name, From: opts.From, FirstSeq: floor + 1,
			Reason: "old values are kept in memory for the newest events only; watch without old values, or from a later seq"}
	}
	w.next = opts.From
	return w, nil
}

// Next returns the next event, waiting for one. A ctx that ends returns
// ctx.Err() and leaves the watcher usable (a caller may wait with a
// timeout to send keep-alives). Any other error ends the watcher: a
// *BehindError, a *CompactedError, ErrClosed when the DB closes.
func (w *Watcher) Next(ctx context.Context) (Event, error) {
	for w.i == len(w.buf) {
		if w.err != nil {
			return Event{}, w.err
		}
		clear(w.buf)
		w.buf, w.i = w.buf[:0], 0
		var err error
		if w.live {
			err = w.fromFeed(ctx)
		} else {
			err = w.fromJournal(ctx)
		}
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return Event{}, err
			}
			w.err = err
		}
	}
	ev := w.buf[w.i]
	w.i++
	return ev, nil
}

// fromFeed fills buf from the feed, waiting when there is nothing new.
func (w *Watcher) fromFeed(ctx context.Context) error {
	f := w.d.feed
	for {
		f.mu.RLock()
		if w.pos < f.base {
			f.mu.RUnlock()
			return &BehindError{Domain: w.d.name, ResumeFrom: w.next}
		}
		end := f.base + uint64(len(f.events))
		if w.pos < end {
			i := int(w.pos - f.base)
			n := min(len(f.events)-i, watchChunk)
			// Take whole seqs, so that next is exact.
			for i+n < len(f.events) && f.events[i+n].Seq == f.events[i+n-1].Seq {
				n++
			}
			for _, ev := range f.events[i : i+n] {
				if w.match(&ev) {
					if !w.opts.OldValues {
						ev.OldValue, ev.Existed = nil, false
					}
					w.buf = append(w.buf, ev)
				}
			}
			w.pos += uint64(n)
			w.next = f.events[i+n-1].Seq + 1
			if w.pos == end {
				w.next = max(w.next, f.seq+1)
			}
			f.mu.RUnlock()
			if len(w.buf) > 0 {
				return nil
			}
			continue
		}
		w.next = max(w.next, f.seq+1)
		wake, closed := f.wake, f.closed
		f.mu.RUnlock()
		if closed {
			return ErrClosed
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// fromJournal fills buf from the journal, or switches to the feed once the
// feed holds the watcher's position.
func (w *Watcher) fromJournal(ctx context.Context) error {
	d := w.d
	for {
		f := d.feed
		f.mu.RLock()
		floor, closed := f.floor, f.closed
		if w.next > floor {
			w.pos, w.live = f.position(w.next), true
		}
		f.mu.RUnlock()
		switch {
		case closed:
			return ErrClosed
		case w.live:
			return w.fromFeed(ctx)
		}
		n := int(min(floor-w.next+1, watchChunk))
		recs, err := d.journal.Read(ctx, journal.Seq(w.next), n)
		var cerr *journal.CompactedError
		switch {
		case errors.As(err, &cerr):
			return &CompactedError{Domain: d.name, From: w.next, FirstSeq: uint64(cerr.First), Reason: "the journal was truncated below it", Snapshot: d.newestSnapshot(ctx)}
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			return fmt.Errorf("%w: read the journal of %s from seq %d: %w", ErrUnavailable, d.name, w.next, err)
		case len(recs) == 0:
			return fmt.Errorf("%w: the journal of %s has nothing at seq %d, which this node applied", ErrUnavailable, d.name, w.next)
		}
		for _, rec := range recs {
			if uint64(rec.Seq) != w.next || uint64(rec.Seq) > floor {
				break
			}
			w.next++
			if d.isSkipped(uint64(rec.Seq)) {
				continue
			}
			var e journal.Entry
			if e.UnmarshalBinary(rec.Data) != nil || e.Domain != d.name {
				continue // applying skipped it too
			}
			for i := range e.Ops {
				if ev := opEvent(uint64(rec.Seq), &e.Ops[i]); w.match(&ev) {
					w.buf = append(w.buf, ev)
				}
			}
		}
		if len(w.buf) > 0 {
			return nil
		}
	}
}

// opEvent is the event of an op as the journal holds it. It equals the
// projector's event of the op (but for old values): the leader appends only
// entries that apply, and drops deletes of absent items from them.
func opEvent(seq uint64, op *journal.Op) Event {
	return Event{Seq: seq, Store: op.Store, Kind: eventKind(op.Kind), Key: op.Key, Value: op.Value}
}

// eventKind is the event kind of an op kind.
func eventKind(k journal.OpKind) EventKind {
	switch k {
	case journal.OpPut:
		return EventPut
	case journal.OpDelete:
		return EventDelete
	case journal.OpCreateStore:
		return EventCreateStore
	case journal.OpDropStore:
		return EventDropStore
	}
	return EventKind(k.String())
}

// match reports whether the watch delivers ev.
func (w *Watcher) match(ev *Event) bool {
	if w.opts.Store != "" && ev.Store != w.opts.Store {
		return false
	}
	if len(w.opts.Prefix) > 0 {
		return (ev.Kind == EventPut || ev.Kind == EventDelete) && bytes.HasPrefix(ev.Key, w.opts.Prefix)
	}
	return true
}

// Resume is the seq a new watch should start from to go on where this one
// stopped: one past the last seq whose events were all delivered.
func (w *Watcher) Resume() uint64 {
	if w.i < len(w.buf) {
		return w.buf[w.i].Seq
	}
	return w.next
}

// Close releases the watcher. Next returns ErrClosed after it.
func (w *Watcher) Close() {
	w.buf, w.i, w.err = nil, 0, ErrClosed
}
