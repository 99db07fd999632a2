package sop_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sopd/sop"
	"github.com/sopd/sop/index"
	"github.com/sopd/sop/journal"
	"github.com/sopd/sop/snapshot"
)

// fillDomain writes n items into stores "a" (plain) and "docs" (with an
// index specification) of domain default, in transactions of a few.
func fillDomain(t *testing.T, db *sop.DB, from, n int) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.CreateStore(ctx, "default", "a", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateStore(ctx, "default", "docs", index.Spec{{Name: "city"}, {Name: "n", Desc: true}}); err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+n; i += 4 {
		_, err := db.Update(ctx, "default", func(tx *sop.Tx) error {
			for j := i; j < min(i+4, from+n); j++ {
				if err := tx.Put("a", []byte(fmt.Sprintf("k%05d", j)), bytes.Repeat([]byte{byte(j)}, j%300)); err != nil {
					return err
				}
				if _, err := tx.PutDoc("docs", []byte(fmt.Sprintf(`{"city":"c%d","n":%d}`, j%7, j))); err != nil {
					return err
				}
				if j%5 == 0 {
					if err := tx.Delete("a", []byte(fmt.Sprintf("k%05d", j-3))); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func mustHash(t *testing.T, db *sop.DB) (uint64, []byte) {
	t.Helper()
	seq, sum, err := db.Hash("default")
	if err != nil {
		t.Fatal(err)
	}
	return seq, sum
}

// TestSnapshotRestoreCatchUp: node A snapshots mid-way and truncates its
// journal; node B, new, sharing A's journal and snapshot store, restores
// the snapshot, replays the rest and has A's state hash at A's seq. A
// watcher asking for a purged seq gets ErrCompacted naming the first
// retained seq, and the whole history after it.
func TestSnapshotRestoreCatchUp(t *testing.T) {
	ctx := context.Background()
	addr := freeAddr(t)
	snapDir := filepath.Join(t.TempDir(), "snaps")
	store, err := snapshot.NewDir(snapDir)
	if err != nil {
		t.Fatal(err)
	}
	a := openTest(t, "", func(o *sop.Options) {
		o.NATSListen = addr
		o.Snapshots = store
		o.JournalRetain = 10
	})
	fillDomain(t, a, 0, 200)
	meta, err := a.Snapshot(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	applied, _ := a.Applied("default")
	if meta.Seq != applied || meta.Bytes == 0 || meta.Domain != "default" {
		t.Fatalf("snapshot meta %+v at applied %d", meta, applied)
	}
	fillDomain(t, a, 200, 100)
	first, last, err := a.JournalBounds(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	if first <= 1 || first > meta.Seq+1-10 {
		t.Fatalf("journal bounds after the snapshot: %d..%d; want it truncated to about seq %d", first, last, meta.Seq+1-10)
	}
	_, err = a.Watch(ctx, "default", sop.WatchOptions{From: 1})
	var cerr *sop.CompactedError
	if !errors.As(err, &cerr) || cerr.FirstSeq != first {
		t.Fatalf("watch from 1 after truncation = %v, want a CompactedError naming %d", err, first)
	}
	w, err := a.Watch(ctx, "default", sop.WatchOptions{From: first})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := w.Next(ctx); err != nil || ev.Seq != first {
		t.Fatalf("watch from the first retained seq: %+v, %v", ev, err)
	}
	w.Close()

	b := openTest(t, "", func(o *sop.Options) {
		o.NATSURL = "nats://" + addr
		o.Snapshots = store
	})
	seqA, sumA := mustHash(t, a)
	seqB, sumB := mustHash(t, b)
	if seqA != seqB || !bytes.Equal(sumA, sumB) {
		t.Fatalf("node A at seq %d hash %x; node B restored at seq %d hash %x", seqA, sumA, seqB, sumB)
	}
	list, err := b.Snapshots(ctx, "default")
	if err != nil || len(list) != 1 || list[0].ID != meta.ID {
		t.Fatalf("snapshots listed by B: %+v, %v", list, err)
	}
}

// TestSnapshotDamagedRejected: a node that must restore finds the newest
// snapshot damaged; it restores the older one (which still reaches the
// journal) and says nothing wrong; with only damaged ones it fails to open
// with ErrNoSnapshot, and opens once a good one is there.
func TestSnapshotDamagedRejected(t *testing.T) {
	ctx := context.Background()
	addr := freeAddr(t)
	snapDir := filepath.Join(t.TempDir(), "snaps")
	store, err := snapshot.NewDir(snapDir)
	if err != nil {
		t.Fatal(err)
	}
	a := openTest(t, "", func(o *sop.Options) {
		o.NATSListen = addr
		o.Snapshots = store
		o.JournalRetain = 1000
	})
	fillDomain(t, a, 0, 100)
	old, err := a.Snapshot(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	fillDomain(t, a, 100, 100)
	newest, err := a.Snapshot(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	// Truncate past the old snapshot's seq so that a new node must restore.
	purgeJournal(t, addr, old.Seq+1)
	damage(t, filepath.Join(snapDir, "default", newest.ID+".snap"))

	b := openTest(t, "", func(o *sop.Options) {
		o.NATSURL = "nats://" + addr
		o.Snapshots = store
	})
	seqA, sumA := mustHash(t, a)
	seqB, sumB := mustHash(t, b)
	if seqA != seqB || !bytes.Equal(sumA, sumB) {
		t.Fatalf("after restoring the older snapshot: A %d %x, B %d %x", seqA, sumA, seqB, sumB)
	}

	damage(t, filepath.Join(snapDir, "default", old.ID+".snap"))
	dir := t.TempDir()
	_, err = sop.Open(ctx, sop.Options{Dir: dir, NATSURL: "nats://" + addr, Snapshots: store})
	if !errors.Is(err, sop.ErrNoSnapshot) || !errors.Is(err, snapshot.ErrCorrupt) {
		t.Fatalf("open with only damaged snapshots = %v, want ErrNoSnapshot naming the damage", err)
	}
	// A crash or failure during restore leaves a node that restores again.
	if _, err := a.Snapshot(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	c := openTest(t, dir, func(o *sop.Options) {
		o.NATSURL = "nats://" + addr
		o.Snapshots = store
	})
	seqC, sumC := mustHash(t, c)
	if seqC != seqA || !bytes.Equal(sumC, sumA) {
		t.Fatalf("after a failed restore and a good one: C %d %x, A %d %x", seqC, sumC, seqA, sumA)
	}
}

// damage flips a byte in the middle of a file.
func damage(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// purgeJournal purges domain default's journal below seq from outside.
func purgeJournal(t *testing.T, addr string, below uint64) {
	t.Helper()
	fw := newForeignWriter(t, addr)
	if err := fw.stream.Purge(context.Background(), journal.Seq(below)); err != nil {
		t.Fatal(err)
	}
}

// TestJoinUnderLoad: a writer commits continuously to node A while node B
// joins as a follower from a snapshot A took mid-load. When the writer
// stops, both nodes are at the same seq with the same state hash, and B's
// change stream from just after its snapshot equals A's over the same seqs:
// nothing applied twice, nothing skipped.
func TestJoinUnderLoad(t *testing.T) {
	ctx := context.Background()
	addr := freeAddr(t)
	store, err := snapshot.NewDir(filepath.Join(t.TempDir(), "snaps"))
	if err != nil {
		t.Fatal(err)
	}
	a := openTest(t, "", func(o *sop.Options) {
		o.NATSListen = addr
		o.Snapshots = store
		o.JournalRetain = 5
	})
	if _, err := a.CreateStore(ctx, "default", "s", nil); err != nil {
		t.Fatal(err)
	}
	aw, err := a.Watch(ctx, "default", sop.WatchOptions{From: 1})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			_, err := a.Update(ctx, "default", func(tx *sop.Tx) error {
				if err := tx.Put("s", []byte(fmt.Sprintf("k%03d", i%500)), []byte(fmt.Sprint(i))); err != nil {
					return err
				}
				if i%7 == 0 {
					return tx.Delete("s", []byte(fmt.Sprintf("k%03d", (i+250)%500)))
				}
				return nil
			})
			if err != nil {
				writerDone <- err
				return
			}
		}
	}()
	waitSeq := func(db *sop.DB, seq uint64) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := db.WaitApplied(wctx, "default", seq); err != nil {
			t.Fatalf("wait for seq %d: %v", seq, err)
		}
	}
	waitSeq(a, 300)
	snap, err := a.Snapshot(ctx, "default") // truncates the journal to about its seq
	if err != nil {
		t.Fatal(err)
	}
	waitSeq(a, snap.Seq+200)
	b := openTest(t, "", func(o *sop.Options) {
		o.NATSURL = "nats://" + addr
		o.Snapshots = store
		o.Follower = true
	})
	bw, err := b.Watch(ctx, "default", sop.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bStart := bw.Resume() // B's first live seq
	if _, err := b.Update(ctx, "default", func(tx *sop.Tx) error { return tx.Put("s", []byte("x"), nil) }); !errors.Is(err, sop.ErrNotLeader) {
		t.Fatalf("write on a follower = %v, want ErrNotLeader", err)
	}
	applied, _ := a.Applied("default")
	waitSeq(a, applied+300)
	close(stop)
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	last, _ := a.Applied("default")
	waitSeq(b, last)
	seqA, sumA := mustHash(t, a)
	seqB, sumB := mustHash(t, b)
	if seqA != seqB || !bytes.Equal(sumA, sumB) {
		t.Fatalf("after the join: A at %d %x, B at %d %x", seqA, sumA, seqB, sumB)
	}
	st, err := b.Status(ctx)
	if err != nil || st[0].Role != sop.RoleFollower {
		t.Fatalf("B's status: %+v, %v", st, err)
	}
	// A's events from bStart on, and B's, are the same list.
	var fromA []string
	for {
		ev, err := aw.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Seq >= bStart {
			fromA = append(fromA, describeEvent(ev))
		}
		if ev.Seq == last {
			// The last seq may have several events; read them all.
			for aw.Resume() <= last {
				ev, err := aw.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				fromA = append(fromA, describeEvent(ev))
			}
			break
		}
	}
	sameLines(t, "B's stream against A's", collect(t, bw, len(fromA)), fromA)
}

// TestSnapshotsInJetStream: with SnapshotsInJetStream the snapshots live
// in the node's own NATS (the object store), and a second node restores
// from there.
func TestSnapshotsInJetStream(t *testing.T) {
	ctx := context.Background()
	addr := freeAddr(t)
	a := openTest(t, "", func(o *sop.Options) {
		o.NATSListen = addr
		o.SnapshotsInJetStream = true
		o.JournalRetain = 1
	})
	fillDomain(t, a, 0, 60)
	meta, err := a.Snapshot(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	fillDomain(t, a, 60, 20)
	if first, _, _ := a.JournalBounds(ctx, "default"); first != meta.Seq {
		t.Fatalf("journal starts at %d after a snapshot at %d with JournalRetain 1", first, meta.Seq)
	}
	b := openTest(t, "", func(o *sop.Options) {
		o.NATSURL = "nats://" + addr
		o.SnapshotsInJetStream = true
	})
	seqA, sumA := mustHash(t, a)
	seqB, sumB := mustHash(t, b)
	if seqA != seqB || !bytes.Equal(sumA, sumB) {
		t.Fatalf("A at %d %x, B (restored from the object store) at %d %x", seqA, sumA, seqB, sumB)
	}
}

// TestMissingPageFileRefused: a node whose page file was deleted by hand
// does not open as if it were empty; it says what to do.
func TestMissingPageFileRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sop.Open(ctx, sop.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	fillDomain(t, db, 0, 10)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "domains", "default", "pages")); err != nil {
		t.Fatal(err)
	}
	_, err = sop.Open(ctx, sop.Options{Dir: dir})
	if !errors.Is(err, sop.ErrDomainFailed) {
		t.Fatalf("open without the page file = %v, want ErrDomainFailed", err)
	}
}

// TestRebuild: a node wipes and rebuilds its state online, from a snapshot
// and the journal after it, and from the journal alone when there is no
// snapshot; the state hash is the same, and commits go on afterwards.
func TestRebuild(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, "", func(o *sop.Options) { o.JournalRetain = 3 })
	fillDomain(t, db, 0, 40)
	seq0, sum0 := mustHash(t, db)
	if got, err := db.Rebuild(ctx, "default"); err != nil || got != seq0 {
		t.Fatalf("rebuild from the journal alone: seq %d, %v; want %d", got, err, seq0)
	}
	if seq, sum := mustHash(t, db); seq != seq0 || !bytes.Equal(sum, sum0) {
		t.Fatalf("after rebuilding from the journal: %d %x, want %d %x", seq, sum, seq0, sum0)
	}
	if _, err := db.Snapshot(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	fillDomain(t, db, 40, 20)
	if first, _, _ := db.JournalBounds(ctx, "default"); first <= 1 {
		t.Fatalf("the journal was not truncated (first seq %d)", first)
	}
	seq1, sum1 := mustHash(t, db)
	if got, err := db.Rebuild(ctx, "default"); err != nil || got != seq1 {
		t.Fatalf("rebuild from the snapshot: seq %d, %v; want %d", got, err, seq1)
	}
	if seq, sum := mustHash(t, db); seq != seq1 || !bytes.Equal(sum, sum1) {
		t.Fatalf("after rebuilding from the snapshot: %d %x, want %d %x", seq, sum, seq1, sum1)
	}
	fillDomain(t, db, 60, 4)
	if _, err := db.Rebuild(ctx, "nope"); !errors.Is(err, sop.ErrDomainNotFound) {
		t.Fatalf("rebuild of a missing domain = %v", err)
	}
}

// TestRebuildAgainAfterFailure: a rebuild that fails (here: the journal
// was truncated and the snapshot it needs is gone) can be started again;
// it fails for the same reason, not as "being rebuilt already".
func TestRebuildAgainAfterFailure(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// Not openTest: its cleanup checks the domain, which stays closed here.
	db, err := sop.Open(ctx, sop.Options{Dir: dir, JournalRetain: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fillDomain(t, db, 0, 40)
	if _, err := db.Snapshot(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := db.JournalBounds(ctx, "default"); first <= 1 {
		t.Fatalf("the journal was not truncated (first seq %d)", first)
	}
	if err := os.RemoveAll(filepath.Join(dir, "snapshots", "default")); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := db.Rebuild(ctx, "default"); !errors.Is(err, sop.ErrNoSnapshot) {
			t.Fatalf("rebuild %d without the snapshot it needs = %v, want ErrNoSnapshot", i+1, err)
		}
	}
}
