package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/sopd/sop"
	"github.com/sopd/sop/snapshot"
)

// replayOptions are the options of a sop node on the bench's journal server: sop's
// defaults, but no automatic snapshots, whose journal truncation would purge entries
// the other side still reads.
func replayOptions(dir, url string) sop.Options {
	return sop.Options{Dir: dir, NATSURL: url, SnapshotEntries: -1, SnapshotInterval: -1}
}

// sopReplay times sop.Open on a fresh data directory, which replays the n entries of
// the journal at url, and checks that the node applied them all.
func sopReplay(e *env, name, url string, n int) (float64, error) {
	dir, remove, err := caseDir(e, name, "sop")
	if err != nil {
		return 0, err
	}
	defer remove()
	// Each run replays into a fresh directory; the nodes are checked and
	// closed after the last run, untimed.
	var dbs []*sop.DB
	closeAll := func() error {
		var errs []error
		for _, db := range dbs {
			errs = append(errs, db.Close())
		}
		return errors.Join(errs...)
	}
	rate, err := e.measure("sop", name, n, replayRuns, func() error {
		db, err := sop.Open(context.Background(), replayOptions(filepath.Join(dir, fmt.Sprint(len(dbs))), url))
		if err == nil {
			dbs = append(dbs, db)
		}
		return err
	})
	if err != nil {
		return 0, errors.Join(err, closeAll())
	}
	var errs []error
	for _, db := range dbs {
		errs = append(errs, checkSop(db, uint64(n), uint64(n-1)))
	}
	return rate, errors.Join(errors.Join(errs...), closeAll())
}

// checkSop checks that db applied domain "default" up to seq and that its store
// "bench" holds items items.
func checkSop(db *sop.DB, seq, items uint64) error {
	applied, err := db.Applied(engineDomain)
	if err != nil {
		return err
	}
	if applied != seq {
		return fmt.Errorf("sop applied seq %d, want %d", applied, seq)
	}
	stores, _, err := db.Stores(engineDomain)
	if err != nil {
		return err
	}
	for _, st := range stores {
		if st.Name == engineStore {
			if st.Count != items {
				return fmt.Errorf("sop: store %s holds %d items, want %d", engineStore, st.Count, items)
			}
			return nil
		}
	}
	if items == 0 {
		return nil
	}
	return fmt.Errorf("sop: store %s not found", engineStore)
}

// sopRestore loads w's keys into a sop node, snapshots it, and times sop.Restore of
// that snapshot into a fresh data directory.
func sopRestore(e *env, name string, w *workload) (float64, error) {
	j, err := startJournal(e, name)
	if err != nil {
		return 0, err
	}
	defer j.stop()
	nodeDir, removeNode, err := caseDir(e, name, "node")
	if err != nil {
		return 0, err
	}
	defer removeNode()
	meta, err := buildSnapshot(e, name, nodeDir, j.url, w)
	if err != nil {
		return 0, err
	}
	e.note("restore-vs-bbolt: snapshot %s: %d bytes (%.1f MiB) at seq %d", meta.ID, meta.Bytes, float64(meta.Bytes)/(1<<20), meta.Seq)

	snaps, err := snapshot.NewDir(filepath.Join(nodeDir, "snapshots"))
	if err != nil {
		return 0, err
	}
	dir, remove, err := caseDir(e, name, "sop")
	if err != nil {
		return 0, err
	}
	defer remove()
	n := len(w.keys)
	rate, err := e.measure("sop", name, n, 1, func() error {
		_, err := sop.Restore(context.Background(), sop.Options{Dir: dir, Snapshots: snaps}, engineDomain, meta.ID)
		return err
	})
	if err != nil {
		return 0, err
	}
	// Open the restored node on the journal the snapshot came from: it replays
	// nothing (the journal ends at the snapshot's seq) and must hold every key.
	db, err := sop.Open(context.Background(), replayOptions(dir, j.url))
	if err != nil {
		return 0, fmt.Errorf("open the restored node: %w", err)
	}
	return rate, errors.Join(checkSop(db, meta.Seq, uint64(n)), db.Close())
}

// buildSnapshot opens a sop node in dir on the journal at url, commits w's keys
// through db.Update, restoreTxPuts puts per transaction, takes a snapshot of domain
// "default" and closes the node.
func buildSnapshot(e *env, name, dir, url string, w *workload) (meta snapshot.Meta, err error) {
	ctx := context.Background()
	db, err := sop.Open(ctx, replayOptions(dir, url))
	if err != nil {
		return meta, fmt.Errorf("open sop: %w", err)
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close sop: %w", cerr)
		}
	}()
	if _, err := db.CreateStore(ctx, engineDomain, engineStore, nil); err != nil {
		return meta, fmt.Errorf("create store: %w", err)
	}
	n := len(w.keys)
	e.logf("%s %s: writing %d keys through db.Update, %d puts per transaction (untimed; this takes a while)", e.suite.name, name, n, restoreTxPuts)
	start, next := time.Now(), time.Now().Add(10*time.Second)
	for lo := 0; lo < n; lo += restoreTxPuts {
		hi := min(lo+restoreTxPuts, n)
		_, err := db.Update(ctx, engineDomain, func(tx *sop.Tx) error {
			for i := lo; i < hi; i++ {
				if err := tx.Put(engineStore, w.keys[i], w.value(i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return meta, fmt.Errorf("write keys %d..%d: %w", lo, hi, err)
		}
		if now := time.Now(); now.After(next) {
			e.logf("%s %s: wrote %d of %d keys in %v", e.suite.name, name, hi, n, now.Sub(start).Round(time.Second))
			next = now.Add(10 * time.Second)
		}
	}
	seq, err := db.Applied(engineDomain)
	if err != nil {
		return meta, err
	}
	if err := checkSop(db, seq, uint64(n)); err != nil {
		return meta, err
	}
	e.logf("%s %s: wrote %d keys in %v; taking a snapshot", e.suite.name, name, n, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if meta, err = db.Snapshot(ctx, engineDomain); err != nil {
		return meta, fmt.Errorf("snapshot: %w", err)
	}
	e.logf("%s %s: snapshot %s at seq %d, %.1f MiB, in %v", e.suite.name, name, meta.ID, meta.Seq, float64(meta.Bytes)/(1<<20), time.Since(start).Round(time.Millisecond))
	return meta, nil
}
