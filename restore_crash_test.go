package sop_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sopd/sop"
	"github.com/sopd/sop/internal/testseed"
	"github.com/sopd/sop/snapshot"
)

const (
	restoreDirEnv   = "SOP_RESTORE_CHILD_DIR"
	restoreNATSEnv  = "SOP_RESTORE_CHILD_NATS"
	restoreSnapsEnv = "SOP_RESTORE_CHILD_SNAPS"
)

// TestRestoreKill9 kills a joining node with SIGKILL again and again while
// it restores a snapshot and replays the journal after it, then opens it
// once more: it must come up with the writer's state hash.
func TestRestoreKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes; skipped with -short")
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 11))
	addr := freeAddr(t)
	snapDir := filepath.Join(t.TempDir(), "snaps")
	store, err := snapshot.NewDir(snapDir)
	if err != nil {
		t.Fatal(err)
	}
	a := openTest(t, "", func(o *sop.Options) {
		o.NATSListen = addr
		o.Snapshots = store
		o.JournalRetain = 1
	})
	if _, err := a.CreateStore(ctx, "default", "s", nil); err != nil {
		t.Fatal(err)
	}
	value := bytes.Repeat([]byte("v"), 1000)
	put := func(from, n, per int) {
		for i := from; i < from+n; i += per {
			if _, err := a.Update(ctx, "default", func(tx *sop.Tx) error {
				for j := i; j < i+per; j++ {
					if err := tx.Put("s", []byte(fmt.Sprintf("k%06d", j)), value); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(0, 30000, 500)
	if _, err := a.Snapshot(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	put(30000, 2000, 1) // a journal tail to replay after the snapshot

	// How long an open that restores and replays takes here, uninterrupted:
	// the kills fall inside that window.
	start := time.Now()
	probe, err := sop.Open(ctx, sop.Options{Dir: t.TempDir(), NATSURL: "nats://" + addr, Snapshots: store})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	probe.Close()

	dir := t.TempDir()
	for run := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRestoreKill9Child$", "-test.count=1")
		cmd.Env = append(os.Environ(), restoreDirEnv+"="+dir, restoreNATSEnv+"=nats://"+addr, restoreSnapsEnv+"="+snapDir)
		var out bytes.Buffer
		cmd.Stderr = &out
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for the child to begin opening, then kill it at a random
		// point of the open.
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || line != "OPENING\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("run %d: the child said %q, %v: %s", run, line, err, out.String())
		}
		delay := time.Duration(rng.Int64N(int64(took) + 1))
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			t.Fatalf("run %d: the child exited before the kill (%v): %s", run, err, out.String())
		case <-time.After(delay):
		}
		cmd.Process.Kill()
		<-exited
		t.Logf("run %d: killed %v into an open that takes about %v", run, delay.Round(time.Millisecond), took.Round(time.Millisecond))
	}
	b := openTest(t, dir, func(o *sop.Options) {
		o.NATSURL = "nats://" + addr
		o.Snapshots = store
	})
	seqA, sumA := mustHash(t, a)
	seqB, sumB := mustHash(t, b)
	if seqA != seqB || !bytes.Equal(sumA, sumB) {
		t.Fatalf("after 8 killed restores: A at %d %x, B at %d %x", seqA, sumA, seqB, sumB)
	}
}

// TestRestoreKill9Child is the process TestRestoreKill9 kills: it opens a
// node that restores and replays, and then waits to be killed.
func TestRestoreKill9Child(t *testing.T) {
	dir := os.Getenv(restoreDirEnv)
	if dir == "" {
		t.Skip("run by TestRestoreKill9")
	}
	store, err := snapshot.NewDir(os.Getenv(restoreSnapsEnv))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("OPENING")
	db, err := sop.Open(context.Background(), sop.Options{Dir: dir, NATSURL: os.Getenv(restoreNATSEnv), Snapshots: store})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	time.Sleep(time.Hour)
}
