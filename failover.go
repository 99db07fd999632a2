package sop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sopd/sop/checkpoint"
	"github.com/sopd/sop/vfs"
)

// Storage failover. Every page-file operation goes through the volume's
// FS (pageFS): transient errors are retried with backoff there; a
// permanent one (vfs.IsPermanent: EIO, ENOSPC, EROFS, ...) on the active
// data dir's volume, or from its checkpoint database, reaches the volume
// watcher (watchVolume), which fails the node over once per volume:
//
//  1. log "[Failover]", count it (Failovers, sop_failover_count), and make
//     every request fail with ErrStorageFailed (Ready reports it);
//  2. stop every domain without a last checkpoint: its loops stop, a
//     leader gives up its lease (another node takes over), nothing more
//     is projected on the volume;
//  3. with Options.PassiveDir: open the checkpoint database there and
//     rebuild each domain (the newest snapshot, then the journal's
//     replay), then serve again; without one the node stays not ready and
//     serves nothing, rather than anything stale.

// volumeError is a permanent I/O error on the volume of data dir dir.
type volumeError struct {
	dir string
	err error
}

// newPageFS is the FS of the page files under data dir dir.
func (db *DB) newPageFS(dir string) vfs.FS {
	return vfs.WithRetry(db.opts.FS, vfs.RetryOptions{OnError: func(op vfs.Op, path string, err error) {
		if vfs.IsPermanent(err) {
			db.reportVolume(dir, fmt.Errorf("%s %s: %w", op, path, err))
		}
	}})
}

// reportVolume hands a permanent I/O error on dir's volume to the volume
// watcher; it never blocks.
func (db *DB) reportVolume(dir string, err error) {
	select {
	case db.volumeErrs <- volumeError{dir: dir, err: err}:
	default: // one is pending: that failover covers this error too
	}
}

// Ready returns nil while the node serves from a working volume, and an
// error wrapping ErrStorageFailed while it fails over or after its volume
// failed with no passive dir to go to.
func (db *DB) Ready() error {
	if p := db.storage.Load(); p != nil {
		return *p
	}
	return nil
}

// Failovers is how many storage failovers this node began since it opened.
func (db *DB) Failovers() uint64 { return db.failovers.Load() }

// DataDir is the data dir the node projects into now: Options.Dir, or
// Options.PassiveDir after a storage failover.
func (db *DB) DataDir() string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.dir
}

// watchVolume fails the node over on the first permanent I/O error of the
// active volume, until the DB closes.
func (db *DB) watchVolume() {
	defer close(db.volumeDone)
	for {
		select {
		case <-db.closing:
			return
		case ev := <-db.volumeErrs:
			db.mu.RLock()
			active := db.dir
			db.mu.RUnlock()
			if ev.dir != active || db.Ready() != nil {
				continue // a late error of a volume already left behind
			}
			db.failover(ev)
		}
	}
}

// failover moves the node off ev's volume; see the comment at the top.
func (db *DB) failover(ev volumeError) {
	start := time.Now()
	n := db.failovers.Add(1)
	passive := db.opts.PassiveDir
	log := db.opts.Logger
	if passive == "" || filepath.Clean(ev.dir) == filepath.Clean(passive) {
		err := fmt.Errorf("%w: permanent I/O error on the volume of %s (%v) and no passive data dir to fail over to: restart the node on a working volume (or with --passive-data)", ErrStorageFailed, ev.dir, ev.err)
		db.storage.Store(&err)
		log.Error("[Failover] permanent I/O error on the data volume and no passive data dir: stopping every domain; this node serves nothing until restarted", "dir", ev.dir, "err", ev.err, "failovers", n)
		db.stopDomains(ev.err)
		return
	}
	failing := fmt.Errorf("%w: failing over from %s to the passive data dir %s after a permanent I/O error (%v): retry shortly", ErrStorageFailed, ev.dir, passive, ev.err)
	db.storage.Store(&failing)
	log.Error("[Failover] permanent I/O error on the data volume: stopping projection, giving up leases, rebuilding on the passive data dir", "dir", ev.dir, "passive", passive, "err", ev.err, "failovers", n)
	db.competeAfter.Store(time.Now().Add(db.opts.LeaseTTL).UnixNano())
	incarnations := db.stopDomains(ev.err)
	db.mu.Lock()
	if err := db.ckpt.Close(); err != nil {
		log.Warn("[Failover] closing the failed volume's checkpoint database", "err", err)
	}
	db.lock.Close()
	db.ckpt, db.lock = nil, nil
	db.dir = passive
	db.pageFS = db.newPageFS(passive)
	db.mu.Unlock()
	for attempt := 0; ; attempt++ {
		err := db.openPassive(incarnations)
		if err == nil {
			break
		}
		log.Error("[Failover] rebuilding on the passive data dir failed; trying again", "passive", passive, "attempt", attempt+1, "err", err)
		db.stopDomains(err)
		select {
		case <-db.closing:
			return
		case <-time.After(min(time.Duration(attempt+1)*time.Second, 10*time.Second)):
		}
	}
	db.storage.Store(nil)
	log.Info("[Failover] serving again from the passive data dir", "dir", passive, "took", time.Since(start).Round(time.Millisecond), "domains", len(incarnations))
}

// stopDomains stops and forgets every open domain without a last
// checkpoint (cause says why), and returns their incarnations by name.
func (db *DB) stopDomains(cause error) map[string]string {
	db.mu.Lock()
	domains := db.domains
	db.domains = map[string]*domain{}
	db.mu.Unlock()
	incarnations := make(map[string]string, len(domains))
	for name, d := range domains {
		incarnations[name] = d.incarnation
		d.fail(fmt.Errorf("%w: %w", ErrStorageFailed, cause)) // no last checkpoint on the failed volume
		if err := d.close(); err != nil {
			db.opts.Logger.Debug("[Failover] closing a domain of the failed volume", "domain", name, "err", err)
		}
	}
	return incarnations
}

// openPassive opens the passive data dir (now db.dir) and rebuilds every
// domain of incarnations there: from what the dir holds already when it
// is a checkpoint of the same incarnation, else from nothing; the newest
// snapshot when it is ahead; then the journal's replay.
func (db *DB) openPassive(incarnations map[string]string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-db.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return ErrClosed
	}
	if db.ckpt == nil {
		if err := db.lockDir(); err != nil {
			return err
		}
		ck, err := checkpoint.Open(filepath.Join(db.dir, "checkpoint"), checkpoint.Options{Logger: db.opts.Logger})
		if err != nil {
			return err
		}
		db.ckpt = ck
		if err := db.ckpt.SetNodeID(db.node); err != nil {
			return err
		}
	}
	for name, inc := range incarnations {
		if _, open := db.domains[name]; open {
			continue
		}
		rec, ok, err := db.ckpt.Load(name)
		if err != nil {
			return err
		}
		if !ok || rec.Incarnation != inc {
			// Nothing of this incarnation here: start it empty.
			if err := db.ckpt.Save(name, checkpoint.Domain{Incarnation: inc}); err != nil {
				return err
			}
			if err := os.Remove(filepath.Join(db.dir, "domains", name, "pages")); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			rec = checkpoint.Domain{Incarnation: inc}
		}
		if metas, err := db.snaps.List(ctx, name); err == nil && len(metas) > 0 && metas[0].Seq > rec.Applied {
			if _, err := db.restoreNewest(ctx, name, inc, rec.Applied+1); err != nil {
				db.opts.Logger.Warn("[Failover] restoring a snapshot failed: replaying the journal instead", "domain", name, "err", err)
			}
		}
		if err := db.openDomainLocked(ctx, name); err != nil {
			return err
		}
	}
	return nil
}
