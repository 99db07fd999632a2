package sop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sopd/sop/btree"
	"github.com/sopd/sop/checkpoint"
	"github.com/sopd/sop/journal"
	"github.com/sopd/sop/projector"
	"github.com/sopd/sop/replay"
	"github.com/sopd/sop/vfs"
)

// wrapJournal, when set (by tests of this package only), wraps every
// domain's journal as it opens, to inject faults.
var wrapJournal func(journal.Journal) journal.Journal

// view is one published state of a domain: the B-tree version holding
// every entry up to seq, and the catalog at that seq.
type view struct {
	seq     uint64
	version uint64 // the forest version with exactly the entries up to seq
	cat     *projector.Catalog
}

// domain is one open domain: its journal, forest and projector, the leader
// loop that commits to it, and the checkpointer.
//
// Lock order: viewMu is taken inside the forest's write lock (a batch is
// open while the loop publishes), never the other way around.
type domain struct {
	db          *DB
	name        string
	incarnation string
	dir         string // the data dir it projects into (DB.dir when it opened)
	log         *slog.Logger
	forest      *btree.Forest
	journal     journal.Journal

	viewMu sync.RWMutex
	view   view // guarded by viewMu

	feed    *feed         // the newest change events, for watchers
	commits atomic.Uint64 // entries this node appended
	groups  atomic.Uint64 // group appends this node made (commits/groups: the mean group size)

	rebuilding atomic.Bool // Rebuild closed this domain to replace it
	// streamIncarnation identifies the journal stream's incarnation, the
	// same on every node (incarnation is this node's checkpoint record's).
	streamIncarnation string
	closeOnce         sync.Once
	closeErr          error
	snapMu            sync.Mutex    // one snapshot at a time
	snapSeq           atomic.Uint64 // seq of the newest snapshot known
	snapAt            atomic.Int64  // when it was taken, Unix nanoseconds
	snapping          atomic.Bool   // an automatic snapshot is running
	snapWG            sync.WaitGroup
	cpSeqSaved        atomic.Uint64 // seq of the last saved checkpoint, for truncation

	skipMu  sync.Mutex
	skipped map[uint64]struct{} // seqs of journal entries applying skipped (bad or rejected); guarded by skipMu

	// Owned by the leader loop (and by openDomain before it starts).
	proj    *projector.Projector
	hist    *history
	ids     *recentIDs // tx ids of recent entries, so a retried Txn learns it committed
	last    uint64     // the journal's last seq as far as the loop knows; == view.seq between groups
	resync  bool       // an append failed: catch up from the journal before the next group
	deposed bool       // cluster mode: catching up found another node's entry after this leader's own leader entry
	scratch []byte
	more    []*commitReq // the requests commitStreamed takes at a time
	// lastAppend is how long the last group's append took (see run).
	lastAppend time.Duration
	events     []Event // the events of the group or records being applied
	opening    bool    // openDomain is replaying: nobody can watch yet
	// pending is the batch the replay at open keeps across chunks until it
	// is full (see applyRecords), with the catalog before it; its records
	// are those after view.seq up to last.
	pending    *btree.Batch
	pendingCat *projector.Catalog

	cur        atomic.Pointer[loop]  // the leader or follower loop running now
	leaseCheck chan chan bool        // asks the lease keeper to renew at once; it answers whether it did
	depose     chan struct{}         // tells the lease keeper the leader loop saw another leader: stop leading
	leaseSafe  atomic.Int64          // cluster mode: Unix ns until which the leader may append (see mayAppend)
	manageDone chan struct{}         // closed when manage returns
	failed     atomic.Pointer[error] // set when the projection cannot go on
	sinceCP    atomic.Uint64         // entries applied since the last checkpoint
	kick       chan struct{}         // wakes the checkpointer early
	stop       chan struct{}
	cpDone     chan struct{}
	cpSeq      uint64 // seq of the last saved checkpoint; owned by the checkpointer
}

func openDomain(ctx context.Context, db *DB, name string) (_ *domain, err error) {
	rec, ok, err := db.ckpt.Load(name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %q has no record in the checkpoint database", ErrDomainNotFound, name)
	}
	d := &domain{
		db: db, name: name, incarnation: rec.Incarnation, dir: db.dir,
		log:  db.opts.Logger.With("domain", name),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), leaseCheck: make(chan chan bool), depose: make(chan struct{}, 1),
		manageDone: make(chan struct{}), cpDone: make(chan struct{}),
		ids: newRecentIDs(recentIDsKept),
	}
	if d.journal, err = db.conn.Open(ctx, name, journal.StreamOptions{Replicas: db.opts.JournalReplicas}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	d.streamIncarnation = d.journal.(interface{ Incarnation() string }).Incarnation()
	if wrapJournal != nil {
		d.journal = wrapJournal(d.journal)
	}
	d.snapAt.Store(time.Now().UnixNano())
	if metas, err := db.snaps.List(ctx, name); err != nil {
		d.log.Warn("cannot list snapshots", "err", err)
	} else if len(metas) > 0 {
		d.snapSeq.Store(metas[0].Seq)
		d.snapAt.Store(metas[0].Created.UnixNano())
	}
	first, _, err := d.journal.Bounds(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if rec.Applied+1 < uint64(first) {
		d.log.Info("the journal starts after this node's checkpoint: restoring a snapshot", "checkpoint", rec.Applied, "journal_first", first)
		if rec, err = db.restoreNewest(ctx, name, rec.Incarnation, uint64(first)-1); err != nil {
			return nil, err
		}
	}
	if err := d.openForest(rec); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			d.forest.Close()
		}
	}()
	d.opening = true
	if err := d.replay(ctx, nil); err != nil {
		return nil, err
	}
	d.opening = false
	d.hist = newHistory(d.last, db.opts.ConflictHistory)
	d.cpSeq = rec.Applied
	d.cpSeqSaved.Store(rec.Applied)
	go d.manage(d.start(!db.opts.Follower && db.opts.Leases == nil))
	go d.checkpointer()
	return d, nil
}

// openForest opens the page file in the state the checkpoint names, or
// empty when there is none (a page file left by a crash before the first
// checkpoint holds nothing that counts).
func (d *domain) openForest(rec checkpoint.Domain) error {
	dir := filepath.Join(d.dir, "domains", d.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create domain dir: %w", err)
	}
	path := filepath.Join(dir, "pages")
	var cp btree.Checkpoint
	cat := projector.NewCatalog()
	if len(rec.Forest) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove uncheckpointed page file: %w", err)
		}
	} else {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: domain %s: the checkpoint at seq %d names pages in %s, which is missing: restore a snapshot (sopd restore), or move the data dir aside to rebuild from the journal", ErrDomainFailed, d.name, rec.Applied, path)
		}
		if err := cp.UnmarshalBinary(rec.Forest); err != nil {
			return fmt.Errorf("checkpoint of domain %s: %w", d.name, err)
		}
		if err := cat.UnmarshalBinary(rec.Catalog); err != nil {
			return fmt.Errorf("checkpoint of domain %s: %w", d.name, err)
		}
	}
	f, err := btree.Open(path, cp, btree.Options{PageSize: d.db.opts.PageSize, CacheSize: d.db.opts.CacheSize, FS: d.db.pageFS})
	if err != nil {
		return err
	}
	d.forest = f
	d.proj = projector.New(cat, projector.Options{OldValues: true})
	d.last = rec.Applied
	d.feed = newFeed(rec.Applied, d.db.opts.WatchHistory, d.db.opts.WatchHistoryBytes)
	d.view = view{seq: rec.Applied, version: f.Version(), cat: cat}
	return nil
}

// replayChunk is how many journal records one replay batch applies: large,
// since each batch copies the B-tree pages it changes once, and each
// publish writes them out.
const replayChunk = 10000

// replay applies every journal record after d.last, until a read finds no
// more (at least up to the journal's last seq at the time of the call).
// onApplied, when set, sees every applied record. It runs at open and, on the leader
// loop, after a failed append.
func (d *domain) replay(ctx context.Context, onApplied func(journal.Record, *journal.Entry)) error {
	first, last, err := d.journal.Bounds(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	switch {
	case journal.Seq(d.last) > last:
		return fmt.Errorf("%w: the checkpoint is at seq %d but the journal ends at %d: the journal was reset or replaced; restore the journal, or move the data dir aside to start over", ErrDomainFailed, d.last, last)
	case journal.Seq(d.last)+1 < first:
		return fmt.Errorf("%w: the checkpoint is at seq %d but the journal starts at %d: restore a snapshot", journal.ErrCompacted, d.last, first)
	}
	if journal.Seq(d.last) == last {
		return nil
	}
	var applyErr error
	p, err := replay.RunDecoded(ctx, d.journal, d.last+1, d.decode, decodedSeq, func(recs []decoded) error {
		applyErr = d.applyRecords(recs, onApplied)
		return applyErr
	}, replay.Options{Chunk: replayChunk, Report: func(p replay.Progress) {
		d.db.replays.set(d.name, p)
		d.log.Info("replaying the journal", "applied", p.Applied, "target", p.Target, "entries", p.Entries, "rate", int(p.Rate()), "lag", p.Lag(), "eta", p.ETA().Round(time.Second), "done", p.Done)
	}})
	d.db.replays.set(d.name, replay.Progress{Done: true})
	d.endPending(applyErr == nil && err == nil)
	switch {
	case applyErr != nil:
		return applyErr
	case err != nil:
		return fmt.Errorf("%w: replay the journal of %s from seq %d: %w", ErrUnavailable, d.name, p.Applied+1, err)
	}
	return nil
}

// decoded is a journal record with its entry decoded (or why it could
// not be), ready to apply.
type decoded struct {
	rec   journal.Record
	entry journal.Entry
	err   error // journal.ErrBadEntry: applying skips the record
}

func decodedSeq(r decoded) journal.Seq { return r.rec.Seq }

// decode decodes a record's entry, checking it belongs to this domain. It
// only reads d.name, so it runs on any goroutine.
func (d *domain) decode(rec journal.Record) decoded {
	out := decoded{rec: rec}
	out.err = out.entry.UnmarshalBinary(rec.Data)
	if out.err == nil && out.entry.Domain != d.name {
		out.err = fmt.Errorf("%w: entry of domain %q in the journal of %q", journal.ErrBadEntry, out.entry.Domain, d.name)
	}
	return out
}

// applyRecords applies journal records in one batch and publishes them;
// onApplied, when set, sees each record's decoded entry. At open (nobody
// reads yet) the batch stays open across calls until it is full
// (btree.Batch.Full), so that a long replay copies and writes each page
// once per full batch rather than once per chunk; replay publishes the
// last one (publishPending).
func (d *domain) applyRecords(recs []decoded, onApplied func(journal.Record, *journal.Entry)) error {
	b, cat := d.pending, d.pendingCat
	if b == nil {
		var err error
		if b, err = d.forest.Begin(); err != nil {
			return d.fail(err)
		}
		cat = d.proj.Catalog()
	}
	d.pending, d.pendingCat = nil, nil
	for i := range recs {
		rec, e, err := recs[i].rec, &recs[i].entry, recs[i].err
		if uint64(rec.Seq) != d.last+1 {
			d.discard(b, cat)
			return fmt.Errorf("%w: journal returned seq %d after %d", ErrUnavailable, rec.Seq, d.last)
		}
		if err == nil {
			emit := d.collect
			if d.opening {
				emit = nil // no watcher exists yet: skip the events and their old values
			}
			err = d.proj.Apply(b, uint64(rec.Seq), e, emit)
		}
		switch {
		case err == nil:
			d.ids.add(rec.ID, uint64(rec.Seq))
			if onApplied != nil {
				onApplied(rec, e)
			}
		case errors.Is(err, journal.ErrBadEntry) || errors.Is(err, projector.ErrRejected):
			d.log.Warn("journal entry skipped", "seq", rec.Seq, "id", rec.ID, "err", err)
			d.skip(uint64(rec.Seq))
		default:
			d.discard(b, cat)
			return d.fail(err)
		}
		d.last = uint64(rec.Seq)
	}
	if d.opening && !b.Full() {
		d.pending, d.pendingCat = b, cat
		return nil
	}
	d.publish(b, int(d.last-d.view.seq))
	return nil
}

// endPending publishes the batch the replay at open kept open, or, when
// the replay failed, discards it.
func (d *domain) endPending(ok bool) {
	b, cat := d.pending, d.pendingCat
	if b == nil {
		return
	}
	d.pending, d.pendingCat = nil, nil
	if ok {
		d.publish(b, int(d.last-d.view.seq))
	} else {
		d.discard(b, cat)
	}
}

// discard drops batch b, begun on catalog cat, and what applying records
// to it did: the records after the published seq are not applied.
func (d *domain) discard(b *btree.Batch, cat *projector.Catalog) {
	b.Abort()
	d.dropEvents()
	d.proj.Reset(cat)
	d.last = d.view.seq
}

// collect is the projector's emit: it keeps the event for the feed.
func (d *domain) collect(pe projector.Event) {
	d.events = append(d.events, Event{Seq: pe.Seq, Store: pe.Store, Kind: eventKind(pe.Op), Key: pe.Key, Value: pe.Value,
		OldValue: pe.OldValue, Existed: pe.OldVersion != 0})
}

// dropEvents forgets the collected events (published, or of an aborted
// batch).
func (d *domain) dropEvents() {
	clear(d.events)
	d.events = d.events[:0]
}

// skip records that applying skipped the entry at seq, so watchers reading
// the journal skip it too.
func (d *domain) skip(seq uint64) {
	d.skipMu.Lock()
	defer d.skipMu.Unlock()
	if d.skipped == nil {
		d.skipped = map[uint64]struct{}{}
	}
	d.skipped[seq] = struct{}{}
}

// isSkipped reports whether applying skipped the entry at seq.
func (d *domain) isSkipped(seq uint64) bool {
	d.skipMu.Lock()
	defer d.skipMu.Unlock()
	_, ok := d.skipped[seq]
	return ok
}

// publish commits b, which applied n entries, and makes its state, at seq
// d.last, what new readers see.
func (d *domain) publish(b *btree.Batch, n int) {
	d.viewMu.Lock()
	defer d.viewMu.Unlock()
	version := b.Version()
	if err := b.Commit(); err != nil {
		// Commit fails only on a batch already ended: a bug.
		panic(fmt.Sprintf("sop: commit of an open batch failed: %v", err))
	}
	d.view = view{seq: d.last, version: version, cat: d.proj.Catalog()}
	d.feed.publish(d.last, d.events)
	d.dropEvents()
	if n := d.sinceCP.Add(uint64(n)); n >= uint64(d.db.opts.CheckpointEntries) {
		select {
		case d.kick <- struct{}{}:
		default:
		}
	}
}

// fail records an error the domain cannot go on from and returns it.
func (d *domain) fail(err error) error {
	err = fmt.Errorf("%w: %s: %w", ErrDomainFailed, d.name, err)
	if d.failed.CompareAndSwap(nil, &err) {
		d.log.Error("domain failed", "err", err)
	}
	return err
}

func (d *domain) failure() error {
	if p := d.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// snapshot pins the current state for a reader. Release the reader.
func (d *domain) snapshot() (*btree.Reader, view, error) {
	d.viewMu.RLock()
	defer d.viewMu.RUnlock()
	r, err := d.forest.NewReader()
	if err != nil {
		return nil, view{}, fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return r, d.view, nil
}

// Applied is the seq of the last entry this node applied.
func (d *domain) applied() uint64 {
	d.viewMu.RLock()
	defer d.viewMu.RUnlock()
	return d.view.seq
}

// checkpointer saves a checkpoint every CheckpointInterval, or sooner when
// CheckpointEntries were applied, until stop.
func (d *domain) checkpointer() {
	defer close(d.cpDone)
	t := time.NewTicker(d.db.opts.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		case <-d.kick:
		}
		if err := d.checkpoint(); err != nil {
			if vfs.IsPermanent(err) {
				d.db.reportVolume(d.dir, err)
			}
			d.log.Error("checkpoint failed; retrying at the next interval", "err", err)
			continue
		}
		d.maybeSnapshot()
	}
}

// checkpoint flushes the forest and saves the checkpoint of the state it
// flushed. Flush holds the forest's write lock, so no batch commits while
// it runs and the published view is the flushed version.
func (d *domain) checkpoint() error {
	var saved view
	_, err := d.forest.Flush(func(cp btree.Checkpoint) error {
		d.viewMu.RLock()
		v := d.view
		d.viewMu.RUnlock()
		if v.version != cp.Version {
			return fmt.Errorf("flushed forest version %d is not the published version %d", cp.Version, v.version)
		}
		if v.seq == d.cpSeq {
			saved = v
			return nil
		}
		forest, err := cp.MarshalBinary()
		if err != nil {
			return err
		}
		cat, err := v.cat.MarshalBinary()
		if err != nil {
			return err
		}
		saved = v
		return d.db.ckpt.Save(d.name, checkpoint.Domain{Applied: v.seq, Forest: forest, Catalog: cat, Incarnation: d.incarnation})
	})
	if err != nil {
		return fmt.Errorf("checkpoint domain %s: %w", d.name, err)
	}
	d.sinceCP.Store(0)
	d.cpSeq = saved.seq
	d.cpSeqSaved.Store(saved.seq)
	return nil
}

// maybeSnapshot starts an automatic snapshot, in the background, when the
// policy says one is due and none is running.
func (d *domain) maybeSnapshot() {
	opts := d.db.opts
	applied, last := d.applied(), d.snapSeq.Load()
	if applied <= last {
		return
	}
	due := opts.SnapshotEntries > 0 && applied-last >= uint64(opts.SnapshotEntries)
	if opts.SnapshotInterval > 0 && time.Since(time.Unix(0, d.snapAt.Load())) >= opts.SnapshotInterval {
		due = true
	}
	if !due || !d.snapping.CompareAndSwap(false, true) {
		return
	}
	d.snapWG.Go(func() {
		defer d.snapping.Store(false)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-d.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		if _, err := d.takeSnapshot(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("automatic snapshot failed; retrying at the next checkpoint", "err", err)
		}
	})
}

// close stops the leader loop (failing queued commits with ErrClosed) and
// the checkpointer, saves a last checkpoint and closes the page file.
func (d *domain) close() error {
	d.closeOnce.Do(func() { d.closeErr = d.shutdown() })
	return d.closeErr
}

func (d *domain) shutdown() error {
	close(d.stop)
	<-d.manageDone
	d.feed.close()
	<-d.cpDone
	d.snapWG.Wait()
	var errs []error
	if d.failure() == nil {
		errs = append(errs, d.checkpoint())
	}
	errs = append(errs, d.forest.Close())
	return errors.Join(errs...)
}
