package sop_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sopd/sop"
	"github.com/sopd/sop/journal"
	"github.com/sopd/sop/lock"
	"github.com/sopd/sop/vfs"
)

// volumeFault fails every page-file operation under dir with err while
// err is set: a data volume that went bad.
type volumeFault struct {
	dir   string
	err   atomic.Pointer[error]
	calls atomic.Int64 // operations failed so far
}

func (f *volumeFault) set(err error) { f.err.Store(&err) }

func (f *volumeFault) MaybeError(_ vfs.Op, path string) error {
	p := f.err.Load()
	if p == nil || *p == nil || !strings.HasPrefix(path, f.dir+string(filepath.Separator)) {
		return nil
	}
	f.calls.Add(1)
	return *p
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// putN writes keys prefix-0 .. prefix-(n-1) in store s, one commit each.
func putN(t *testing.T, db *sop.DB, prefix string, n int) {
	t.Helper()
	for i := range n {
		if _, err := db.Update(context.Background(), sop.DefaultDomain, func(tx *sop.Tx) error {
			return tx.Put("s", fmt.Appendf(nil, "%s-%04d", prefix, i), fmt.Appendf(nil, "value %d", i))
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStorageFailover: a permanent I/O error (EIO, ENOSPC) on the data
// volume's page file makes the node log [Failover], count it, stop
// serving from that volume, and rebuild on the passive dir by the newest
// snapshot plus the journal's replay; it then serves the same state (equal
// state hash) and takes writes again, now in the passive dir.
func TestStorageFailover(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EIO, syscall.ENOSPC} {
		t.Run(errno.Error(), func(t *testing.T) {
			ctx := context.Background()
			dir, passive := t.TempDir(), t.TempDir()
			fault := &volumeFault{dir: dir}
			logs := &syncBuffer{}
			db, err := sop.Open(ctx, sop.Options{
				Dir: dir, PassiveDir: passive, FS: vfs.WithInjector(vfs.Default, fault),
				CheckpointInterval: 20 * time.Millisecond,
				Logger:             slog.New(slog.NewTextHandler(logs, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.CreateStore(ctx, sop.DefaultDomain, "s", nil); err != nil {
				t.Fatal(err)
			}
			putN(t, db, "a", 100)
			if _, err := db.Snapshot(ctx, sop.DefaultDomain); err != nil {
				t.Fatal(err)
			}
			putN(t, db, "b", 50)
			seq, want, err := db.Hash(sop.DefaultDomain)
			if err != nil {
				t.Fatal(err)
			}

			fault.set(errno)
			// The next checkpoint writes the page file and fails. The write
			// that gives it something to write may itself meet the failover
			// (a checkpoint of the batches before it can fail first): then it
			// is refused, not committed.
			_, cerr := db.Update(ctx, sop.DefaultDomain, func(tx *sop.Tx) error {
				return tx.Put("s", []byte("c-0000"), []byte("value 0"))
			})
			if cerr != nil && !errors.Is(cerr, sop.ErrStorageFailed) && !errors.Is(cerr, sop.ErrClosed) {
				t.Fatalf("a write as the volume fails: %v", cerr)
			}
			committed := cerr == nil
			waitFor(t, "the failover to begin", func() bool { return db.Failovers() == 1 })
			waitFor(t, "the node to serve from the passive dir", func() bool { return db.Ready() == nil })
			if got := db.DataDir(); got != passive {
				t.Fatalf("DataDir after the failover = %s, want the passive dir %s", got, passive)
			}
			if fault.calls.Load() == 0 {
				t.Fatal("no page-file operation failed: the test did not inject anything")
			}
			fault.set(nil) // the old volume is left behind whatever it does now

			if committed {
				if err := db.WaitApplied(ctx, sop.DefaultDomain, seq+1); err != nil {
					t.Fatal(err)
				}
				gotSeq, _, err := db.Hash(sop.DefaultDomain)
				if err != nil {
					t.Fatal(err)
				}
				if gotSeq != seq+1 {
					t.Fatalf("after the failover the node applied seq %d, want %d", gotSeq, seq+1)
				}
				// The state at seq+1 is the state before the fault plus c-0000.
				err = db.View(ctx, sop.DefaultDomain, func(tx *sop.Tx) error {
					it, ok, err := tx.Get("s", []byte("c-0000"))
					if err != nil || !ok || string(it.Value) != "value 0" {
						return fmt.Errorf("c-0000 after the failover: %+v %v %v", it, ok, err)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.Update(ctx, sop.DefaultDomain, func(tx *sop.Tx) error { return tx.Delete("s", []byte("c-0000")) }); err != nil {
					t.Fatal(err)
				}
			} else if gotSeq, _, err := db.Hash(sop.DefaultDomain); err != nil || gotSeq != seq {
				t.Fatalf("after a refused write and the failover the node is at seq %d (%v), want %d", gotSeq, err, seq)
			}
			_, got, err := db.Hash(sop.DefaultDomain)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("state hash after the failover (c-0000 undone if it committed): %x, want %x", got, want)
			}
			putN(t, db, "d", 10)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			for _, line := range []string{"[Failover] permanent I/O error", "[Failover] serving again from the passive data dir", errno.Error()} {
				if !strings.Contains(logs.String(), line) {
					t.Fatalf("the log lacks %q:\n%s", line, logs.String())
				}
			}

			// The passive dir is the node's data dir now. A standalone node's
			// embedded journal stayed in the old dir: moved beside it (what
			// docs/OPERATIONS.md tells to do), the passive dir opens on its own.
			if err := os.Rename(filepath.Join(dir, "journal"), filepath.Join(passive, "journal")); err != nil {
				t.Fatal(err)
			}
			re, err := sop.Open(ctx, sop.Options{Dir: passive})
			if err != nil {
				t.Fatal(err)
			}
			defer re.Close()
			if err := re.View(ctx, sop.DefaultDomain, func(tx *sop.Tx) error {
				_, ok, err := tx.Get("s", []byte("d-0009"))
				if err == nil && !ok {
					err = errors.New("d-0009 is missing")
				}
				return err
			}); err != nil {
				t.Fatalf("reopening the passive dir: %v", err)
			}
		})
	}
}

// TestStorageFailedNoPassive: without a passive dir a permanent I/O
// error stops the node: it reports not ready and refuses reads and writes
// (ErrStorageFailed) rather than serve a state it no longer projects.
func TestStorageFailedNoPassive(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fault := &volumeFault{dir: dir}
	db, err := sop.Open(ctx, sop.Options{Dir: dir, FS: vfs.WithInjector(vfs.Default, fault), CheckpointInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.CreateStore(ctx, sop.DefaultDomain, "s", nil); err != nil {
		t.Fatal(err)
	}
	putN(t, db, "a", 10)
	fault.set(syscall.EIO)
	putN(t, db, "b", 1)
	waitFor(t, "the node to stop serving", func() bool { return db.Ready() != nil })
	if err := db.Ready(); !errors.Is(err, sop.ErrStorageFailed) || !strings.Contains(err.Error(), "no passive data dir") {
		t.Fatalf("Ready = %v", err)
	}
	if db.Failovers() != 1 {
		t.Fatalf("Failovers = %d, want 1", db.Failovers())
	}
	err = db.View(ctx, sop.DefaultDomain, func(tx *sop.Tx) error { return nil })
	if !errors.Is(err, sop.ErrStorageFailed) {
		t.Fatalf("a read after the volume failed = %v, want ErrStorageFailed", err)
	}
	_, err = db.Update(ctx, sop.DefaultDomain, func(tx *sop.Tx) error { return tx.Put("s", []byte("x"), nil) })
	if !errors.Is(err, sop.ErrStorageFailed) {
		t.Fatalf("a write after the volume failed = %v, want ErrStorageFailed", err)
	}
	if st, err := db.Status(ctx); err != nil || len(st) != 0 {
		t.Fatalf("Status of a node that serves nothing: %v, %v", st, err)
	}
}

// TestTransientIOErrorsRetried: a transient error (EAGAIN) on the page
// file is retried and is no failover.
func TestTransientIOErrorsRetried(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var left atomic.Int64
	inj := vfs.InjectorFunc(func(op vfs.Op, path string) error {
		if op == vfs.OpWrite || op == vfs.OpSync {
			if left.Add(-1) >= 0 {
				return syscall.EAGAIN
			}
		}
		return nil
	})
	db, err := sop.Open(ctx, sop.Options{Dir: dir, PassiveDir: t.TempDir(), FS: vfs.WithInjector(vfs.Default, inj), CheckpointInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.CreateStore(ctx, sop.DefaultDomain, "s", nil); err != nil {
		t.Fatal(err)
	}
	left.Store(2)
	putN(t, db, "a", 10)
	waitFor(t, "the injected errors to be used", func() bool { return left.Load() < 0 })
	time.Sleep(50 * time.Millisecond) // a checkpoint or two more
	if db.Failovers() != 0 || db.Ready() != nil || db.DataDir() != dir {
		t.Fatalf("a transient error failed the node over: failovers %d, ready %v, dir %s", db.Failovers(), db.Ready(), db.DataDir())
	}
}

// TestStorageFailoverGivesUpLeases: in cluster mode the node whose volume
// fails gives up its leases at once, so another node leads; it rebuilds on
// its passive dir, follows, and converges to the leader's state hash.
func TestStorageFailoverGivesUpLeases(t *testing.T) {
	ctx := context.Background()
	srv, err := journal.StartServer(journal.ServerOptions{Dir: t.TempDir(), Listen: freeAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	leases := lock.NewMemory(lock.MemoryOptions{})
	dirA := t.TempDir()
	fault := &volumeFault{dir: dirA}
	a, err := sop.Open(ctx, sop.Options{Dir: dirA, PassiveDir: t.TempDir(), FS: vfs.WithInjector(vfs.Default, fault),
		NATSURL: srv.ClientURL(), Leases: leases, LeaseTTL: time.Hour, ClusterName: "f", NodeID: "a",
		CheckpointInterval: 20 * time.Millisecond, SnapshotsInJetStream: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitFor(t, "A to lead", func() bool { return roleOf(t, a) == sop.RoleLeader })
	// B polls for the lease every 100ms; A, after its failover, waits its
	// lease time (an hour) before it competes again: only A giving the
	// lease up lets B lead in this test.
	b, err := sop.Open(ctx, sop.Options{Dir: t.TempDir(), NATSURL: srv.ClientURL(), Leases: leases.Peer(), LeaseTTL: 300 * time.Millisecond,
		ClusterName: "f", NodeID: "b", SnapshotsInJetStream: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := a.CreateStore(ctx, sop.DefaultDomain, "s", nil); err != nil {
		t.Fatal(err)
	}
	putN(t, a, "a", 20)
	fault.set(syscall.EIO)
	// The next checkpoint fails. The write that gives it something to write
	// may itself meet the failover (a checkpoint of the writes before it
	// can fail first): then it is refused before any append, not committed;
	// the state hashes below compare whatever landed.
	if _, err := a.Update(ctx, sop.DefaultDomain, func(tx *sop.Tx) error {
		return tx.Put("s", []byte("b-0000"), []byte("value 0"))
	}); err != nil && !errors.Is(err, sop.ErrStorageFailed) && !errors.Is(err, sop.ErrClosed) {
		t.Fatalf("a write as the volume fails: %v", err)
	}
	waitFor(t, "B to lead", func() bool { return roleOf(t, b) == sop.RoleLeader })
	waitFor(t, "A to serve from its passive dir", func() bool { return a.Ready() == nil && a.Failovers() == 1 })
	putN(t, b, "c", 5) // B commits; A, following, applies them
	_, last, err := b.JournalBounds(ctx, sop.DefaultDomain)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.WaitApplied(ctx, sop.DefaultDomain, last); err != nil {
		t.Fatal(err)
	}
	if roleOf(t, a) != sop.RoleFollower {
		t.Fatal("A leads after its failover while B holds the lease")
	}
	sa, ha, err := a.Hash(sop.DefaultDomain)
	if err != nil {
		t.Fatal(err)
	}
	sb, hb, err := b.Hash(sop.DefaultDomain)
	if err != nil || sa != sb || !bytes.Equal(ha, hb) {
		t.Fatalf("state hashes differ: A %d %x, B %d %x (%v)", sa, ha, sb, hb, err)
	}
}

// TestStorageFailoverRetries: when the passive dir cannot be used yet (here
// a file stands where it should be), the node logs the failed rebuild,
// stays not ready, and tries again until it can; then it serves.
func TestStorageFailoverRetries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	passive := filepath.Join(t.TempDir(), "passive")
	if err := os.WriteFile(passive, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	fault := &volumeFault{dir: dir}
	logs := &syncBuffer{}
	db, err := sop.Open(ctx, sop.Options{Dir: dir, PassiveDir: passive, FS: vfs.WithInjector(vfs.Default, fault),
		CheckpointInterval: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.CreateStore(ctx, sop.DefaultDomain, "s", nil); err != nil {
		t.Fatal(err)
	}
	putN(t, db, "a", 5)
	fault.set(syscall.EIO)
	db.Update(ctx, sop.DefaultDomain, func(tx *sop.Tx) error { return tx.Put("s", []byte("b"), nil) }) // may meet the failover
	waitFor(t, "a failed rebuild on the passive dir", func() bool {
		return strings.Contains(logs.String(), "[Failover] rebuilding on the passive data dir failed; trying again")
	})
	if err := db.Ready(); !errors.Is(err, sop.ErrStorageFailed) || !strings.Contains(err.Error(), "failing over") {
		t.Fatalf("Ready while the rebuild cannot proceed = %v", err)
	}
	if err := os.Remove(passive); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the node to serve from the passive dir", func() bool { return db.Ready() == nil })
	if db.DataDir() != passive || db.Failovers() != 1 {
		t.Fatalf("after the retried failover: dir %s, failovers %d", db.DataDir(), db.Failovers())
	}
	if err := db.View(ctx, sop.DefaultDomain, func(tx *sop.Tx) error {
		if _, ok, err := tx.Get("s", []byte("a-0004")); err != nil || !ok {
			return fmt.Errorf("a-0004 after the failover: %v %v", ok, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
