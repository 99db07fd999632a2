package sop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sopd/sop/btree"
	"github.com/sopd/sop/checkpoint"
	"github.com/sopd/sop/journal"
	"github.com/sopd/sop/projector"
	"github.com/sopd/sop/snapshot"
)

// ErrNoSnapshot: a domain's journal was truncated past this node's state
// and no snapshot that bridges the gap can be read.
var ErrNoSnapshot = errors.New("sop: no usable snapshot")

// Snapshot takes a snapshot of domain at the seq this node has applied,
// from a pinned B-tree version (commits go on meanwhile), stores it in the
// snapshot store, keeps the newest SnapshotKeep, and truncates the journal
// below seq+1-JournalRetain (never past this node's checkpoint). One
// snapshot of a domain runs at a time; a second call waits.
func (db *DB) Snapshot(ctx context.Context, domain string) (snapshot.Meta, error) {
	d, err := db.domain(domain)
	if err != nil {
		return snapshot.Meta{}, err
	}
	return d.takeSnapshot(ctx)
}

// Snapshots lists domain's stored snapshots, newest first.
func (db *DB) Snapshots(ctx context.Context, domain string) ([]snapshot.Meta, error) {
	if _, err := db.domain(domain); err != nil {
		return nil, err
	}
	return db.snaps.List(ctx, domain)
}

func (d *domain) takeSnapshot(ctx context.Context) (snapshot.Meta, error) {
	d.snapMu.Lock()
	defer d.snapMu.Unlock()
	if err := d.failure(); err != nil {
		return snapshot.Meta{}, err
	}
	r, v, err := d.snapshot()
	if err != nil {
		return snapshot.Meta{}, err
	}
	defer r.Release()
	start := time.Now()
	meta := snapshot.Meta{ID: snapshot.NewID(v.seq, rand.Uint32()), Domain: d.name, Seq: v.seq}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(d.writeSnapshot(pw, r, v)) }()
	meta, err = d.db.snaps.Put(ctx, meta, pr)
	pr.CloseWithError(errors.New("snapshot store stopped reading"))
	if err != nil {
		return snapshot.Meta{}, fmt.Errorf("snapshot of domain %s at seq %d: %w", d.name, v.seq, err)
	}
	d.snapSeq.Store(meta.Seq)
	d.log.Info("snapshot taken", "id", meta.ID, "seq", meta.Seq, "bytes", meta.Bytes, "took", time.Since(start).Round(time.Millisecond))
	if gone, err := snapshot.Prune(ctx, d.db.snaps, d.name, d.db.opts.SnapshotKeep); err != nil {
		d.log.Warn("pruning old snapshots failed; they stay until the next snapshot", "err", err)
	} else if len(gone) > 0 {
		d.log.Info("old snapshots deleted", "count", len(gone), "kept", d.db.opts.SnapshotKeep)
	}
	if sw, ok := d.db.snaps.(snapshot.Sweeper); ok {
		if n, err := sw.Sweep(ctx, d.name); err != nil {
			d.log.Warn("sweeping the snapshot store failed; retried after the next snapshot", "err", err)
		} else if n > 0 {
			d.log.Info("snapshot store swept of debris from failed writes", "removed", n)
		}
	}
	if err := d.truncate(ctx, meta.Seq); err != nil {
		d.log.Warn("journal truncation failed; retried after the next snapshot", "err", err)
	}
	return meta, nil
}

// newestSnapshot returns the ID of domain's newest stored snapshot; empty
// when there is none or the store cannot say.
func (d *domain) newestSnapshot(ctx context.Context) string {
	metas, err := d.db.snaps.List(ctx, d.name)
	if err != nil || len(metas) == 0 {
		return ""
	}
	return metas[0].ID
}

// writeSnapshot writes the state r holds (view v) to w in the snapshot
// format, with its state hash in the trailer.
func (d *domain) writeSnapshot(w io.Writer, r *btree.Reader, v view) error {
	cat, err := v.cat.MarshalBinary()
	if err != nil {
		return err
	}
	var names []string
	for _, s := range v.cat.Stores() {
		names = append(names, s.Name)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	sw, err := snapshot.NewWriter(bw, snapshot.Header{
		Domain: d.name, Seq: v.seq, Node: d.db.node, Created: time.Now().UnixNano(),
		Catalog: cat, Stores: names,
	}, snapshot.WriterOptions{})
	if err != nil {
		return err
	}
	var n uint64
	sum, err := projector.HashVisit(r, v.cat, func(store int, key, item []byte) error {
		n++
		return sw.Add(store, key, item)
	})
	if err != nil {
		return err
	}
	if err := sw.Close(snapshot.Trailer{Records: n, StateHash: sum}); err != nil {
		return err
	}
	return bw.Flush()
}

// truncate purges the journal below snap+1-JournalRetain, but never past
// this node's last saved checkpoint, which a restart replays from (it asks
// the checkpointer for one first, and waits up to 10 seconds).
func (d *domain) truncate(ctx context.Context, snap uint64) error {
	retain := d.db.opts.JournalRetain
	if d.db.opts.Follower || snap+1 <= retain {
		// Truncation is the writer's: a follower's checkpoint says nothing
		// of what the leader needs.
		return nil
	}
	below := snap + 1 - retain
	// A restart replays from the checkpoint: have one saved at or after
	// below before purging (the checkpointer saves it; wait a little).
	for i := 0; d.cpSeqSaved.Load()+1 < below && i < 1000; i++ {
		select {
		case d.kick <- struct{}{}:
		default:
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.stop:
			return ErrClosed
		case <-time.After(10 * time.Millisecond):
		}
	}
	below = min(below, d.cpSeqSaved.Load()+1)
	if err := d.journal.Purge(ctx, journal.Seq(below)); err != nil {
		return fmt.Errorf("purge journal of %s below seq %d: %w", d.name, below, err)
	}
	return nil
}

// restoreNewest replaces domain name's local state with the newest
// snapshot in the store that reaches at least seq need (the journal's first
// seq minus one), trying older ones when one is damaged, and returns the
// new checkpoint record.
func (db *DB) restoreNewest(ctx context.Context, name, incarnation string, need uint64) (checkpoint.Domain, error) {
	metas, err := db.snaps.List(ctx, name)
	if err != nil {
		return checkpoint.Domain{}, fmt.Errorf("%w: list snapshots of %s: %w", ErrNoSnapshot, name, err)
	}
	var errs []error
	for _, m := range metas {
		if m.Seq < need {
			break
		}
		rec, err := db.restore(ctx, name, incarnation, m)
		if err == nil {
			return rec, nil
		}
		db.opts.Logger.Error("restoring a snapshot failed; trying an older one", "domain", name, "id", m.ID, "err", err)
		errs = append(errs, err)
	}
	return checkpoint.Domain{}, fmt.Errorf("%w: domain %s needs a snapshot at seq %d or later (the journal starts after it); %d candidates failed: %w",
		ErrNoSnapshot, name, need, len(errs), errors.Join(errs...))
}

// restore replaces domain name's page file and checkpoint with snapshot m.
// It first resets the checkpoint to empty, so a crash at any point leaves
// a domain that restores again on the next open, never a checkpoint that
// names pages the restore overwrote.
func (db *DB) restore(ctx context.Context, name, incarnation string, m snapshot.Meta) (checkpoint.Domain, error) {
	start := time.Now()
	if err := db.ckpt.Save(name, checkpoint.Domain{Incarnation: incarnation}); err != nil {
		return checkpoint.Domain{}, err
	}
	rc, _, err := db.snaps.Open(ctx, name, m.ID)
	if err != nil {
		return checkpoint.Domain{}, err
	}
	defer rc.Close()
	sr, err := snapshot.NewReader(bufio.NewReaderSize(rc, 1<<20))
	if err != nil {
		return checkpoint.Domain{}, fmt.Errorf("snapshot %s: %w", m.ID, err)
	}
	h := sr.Header()
	if h.Domain != name || h.Seq != m.Seq {
		return checkpoint.Domain{}, fmt.Errorf("%w: snapshot %s holds domain %s at seq %d, its listing says %s at %d", snapshot.ErrCorrupt, m.ID, h.Domain, h.Seq, name, m.Seq)
	}
	cat := projector.NewCatalog()
	if err := cat.UnmarshalBinary(h.Catalog); err != nil {
		return checkpoint.Domain{}, fmt.Errorf("%w: snapshot %s: catalog: %w", snapshot.ErrCorrupt, m.ID, err)
	}
	stores := cat.Stores()
	if len(stores) != len(h.Stores) {
		return checkpoint.Domain{}, fmt.Errorf("%w: snapshot %s: the catalog has %d stores, the header lists %d", snapshot.ErrCorrupt, m.ID, len(stores), len(h.Stores))
	}
	for i, s := range stores {
		if h.Stores[i] != s.Name {
			return checkpoint.Domain{}, fmt.Errorf("%w: snapshot %s: store %d is %q in the header, %q in the catalog", snapshot.ErrCorrupt, m.ID, i, h.Stores[i], s.Name)
		}
	}

	dir := filepath.Join(db.dir, "domains", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return checkpoint.Domain{}, fmt.Errorf("create domain dir: %w", err)
	}
	path := filepath.Join(dir, "pages")
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return checkpoint.Domain{}, fmt.Errorf("remove the page file to restore over it: %w", err)
	}
	f, err := btree.Open(path, btree.Checkpoint{}, btree.Options{PageSize: db.opts.PageSize, CacheSize: db.opts.CacheSize, FS: db.pageFS})
	if err != nil {
		return checkpoint.Domain{}, err
	}
	defer f.Close()
	if err := loadSnapshot(f, sr, stores, m.ID); err != nil {
		return checkpoint.Domain{}, err
	}
	r, err := f.NewReader()
	if err != nil {
		return checkpoint.Domain{}, err
	}
	sum, err := projector.Hash(r, cat)
	r.Release()
	if err != nil {
		return checkpoint.Domain{}, err
	}
	if want := sr.Trailer().StateHash; !bytes.Equal(sum, want) {
		return checkpoint.Domain{}, fmt.Errorf("%w: snapshot %s: the restored state hashes to %x, the snapshot says %x", snapshot.ErrCorrupt, m.ID, sum, want)
	}
	catBytes, err := cat.MarshalBinary()
	if err != nil {
		return checkpoint.Domain{}, err
	}
	var rec checkpoint.Domain
	_, err = f.Flush(func(cp btree.Checkpoint) error {
		forest, err := cp.MarshalBinary()
		if err != nil {
			return err
		}
		rec = checkpoint.Domain{Applied: m.Seq, Forest: forest, Catalog: catBytes, Incarnation: incarnation}
		return db.ckpt.Save(name, rec)
	})
	if err != nil {
		return checkpoint.Domain{}, fmt.Errorf("save the restored state: %w", err)
	}
	db.opts.Logger.Info("snapshot restored", "domain", name, "id", m.ID, "seq", m.Seq, "records", sr.Trailer().Records, "took", time.Since(start).Round(time.Millisecond))
	return rec, ctx.Err()
}

// loadSnapshot bulk-loads the records of sr into fresh trees of f, one
// tree per store, in one batch.
func loadSnapshot(f *btree.Forest, sr *snapshot.Reader, stores []projector.StoreInfo, id string) error {
	b, err := f.Begin()
	if err != nil {
		return err
	}
	if err := loadRecords(b, sr, stores, id); err != nil {
		b.Abort()
		return fmt.Errorf("restore snapshot %s: %w", id, err)
	}
	return b.Commit()
}

func loadRecords(b *btree.Batch, sr *snapshot.Reader, stores []projector.StoreInfo, id string) error {
	for _, s := range stores {
		if err := b.CreateTree(s.Tree); err != nil {
			return err
		}
	}
	var (
		store      int
		key, value []byte
		err        error
		handed     bool // the current record went to the loader
	)
	advance := func() { store, key, value, err = sr.Next() }
	advance()
	for err == nil {
		cur := store
		if cur < 0 || cur >= len(stores) {
			return fmt.Errorf("%w: snapshot %s: a record of store %d, the header lists %d", snapshot.ErrCorrupt, id, cur, len(stores))
		}
		lerr := b.Load(stores[cur].Tree, func() ([]byte, []byte, error) {
			if handed {
				advance()
				handed = false
			}
			if err != nil || store != cur {
				return nil, nil, io.EOF
			}
			handed = true
			return key, value, nil
		})
		if lerr != nil {
			return lerr
		}
	}
	if !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Restore replaces domain name's local state in the data directory opts.Dir
// with snapshot id from opts.Snapshots (by default the directory store
// Dir/snapshots), offline: it takes the directory's lock, so no node may
// have it open. The next Open replays the journal after the snapshot's
// seq. A domain this node did not have is created locally.
func Restore(ctx context.Context, opts Options, name, id string) (snapshot.Meta, error) {
	if err := opts.setDefaults(); err != nil {
		return snapshot.Meta{}, err
	}
	if err := CheckDomainName(name); err != nil {
		return snapshot.Meta{}, err
	}
	db := &DB{opts: opts, dir: opts.Dir, domains: map[string]*domain{}}
	defer db.shutdown()
	if err := db.lockDir(); err != nil {
		return snapshot.Meta{}, err
	}
	var err error
	if db.ckpt, err = checkpoint.Open(filepath.Join(db.dir, "checkpoint"), checkpoint.Options{Logger: opts.Logger}); err != nil {
		return snapshot.Meta{}, err
	}
	if db.snaps = opts.Snapshots; db.snaps == nil {
		if db.snaps, err = snapshot.NewDir(filepath.Join(db.dir, "snapshots")); err != nil {
			return snapshot.Meta{}, err
		}
	}
	metas, err := db.snaps.List(ctx, name)
	if err != nil {
		return snapshot.Meta{}, err
	}
	i := slices.IndexFunc(metas, func(m snapshot.Meta) bool { return m.ID == id })
	if i < 0 {
		return snapshot.Meta{}, fmt.Errorf("%w: domain %s has no snapshot %q (%d stored)", snapshot.ErrNotFound, name, id, len(metas))
	}
	rec, ok, err := db.ckpt.Load(name)
	if err != nil {
		return snapshot.Meta{}, err
	}
	if !ok {
		rec.Incarnation = newID()
		if err := db.ckpt.Create(name, rec.Incarnation); err != nil {
			return snapshot.Meta{}, err
		}
	}
	if _, err := db.restore(ctx, name, rec.Incarnation, metas[i]); err != nil {
		return snapshot.Meta{}, err
	}
	return metas[i], nil
}
