package sop_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/sopd/sop"
	"github.com/sopd/sop/internal/testseed"
)

// describeEvent renders an event for comparisons and failure messages.
func describeEvent(ev sop.Event) string {
	s := fmt.Sprintf("%d %s %s %q %q", ev.Seq, ev.Kind, ev.Store, ev.Key, ev.Value)
	if ev.Existed || ev.OldValue != nil {
		s += fmt.Sprintf(" old=%q existed=%v", ev.OldValue, ev.Existed)
	}
	return s
}

// collect reads n events from w, failing the test on an error or when they
// do not come within a minute.
func collect(t testing.TB, w *sop.Watcher, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := make([]string, 0, n)
	for len(out) < n {
		ev, err := w.Next(ctx)
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		out = append(out, describeEvent(ev))
	}
	return out
}

func sameLines(t testing.TB, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d\ngot  %q\nwant %q", what, len(got), len(want), got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: event %d is\n  %s\nwant\n  %s", what, i, got[i], want[i])
		}
	}
}

// TestWatchEvents checks the events of each kind of write, in order, with
// and without old values: deletes of absent items give none, a Txn's
// branch gives its writes, store creation and drop are events.
func TestWatchEvents(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, "")
	plain, err := db.Watch(ctx, "default", sop.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	old, err := db.Watch(ctx, "default", sop.WatchOptions{OldValues: true})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()

	mustCreateStore(t, db, "default", "s") // seq 1
	put := func(key, value string) uint64 {
		seq, err := db.Update(ctx, "default", func(tx *sop.Tx) error { return tx.Put("s", []byte(key), []byte(value)) })
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	put("a", "1") // 2
	put("a", "2") // 3
	seq, err := db.Update(ctx, "default", func(tx *sop.Tx) error {
		if err := tx.Delete("s", []byte("missing")); err != nil {
			return err
		}
		if err := tx.Put("s", []byte("b"), []byte("x")); err != nil {
			return err
		}
		return tx.Delete("s", []byte("a"))
	}) // 4
	if err != nil || seq != 4 {
		t.Fatalf("update: seq %d, %v", seq, err)
	}
	// A transaction whose only write deletes nothing still gets a seq, and
	// no event.
	seq, err = db.Update(ctx, "default", func(tx *sop.Tx) error { return tx.Delete("s", []byte("a")) }) // 5
	if err != nil || seq != 5 {
		t.Fatalf("no-op delete: seq %d, %v", seq, err)
	}
	res, err := db.Txn(ctx, "default", sop.TxnRequest{
		Compare: []sop.Compare{{Store: "s", Key: []byte("b"), Absent: true}},
		Success: []sop.Op{{Store: "s", Key: []byte("never"), Value: []byte("!")}},
		Failure: []sop.Op{{Store: "s", Key: []byte("b"), Value: []byte("y")}},
	}) // 6
	if err != nil || res.Succeeded || res.Seq != 6 {
		t.Fatalf("txn: %+v, %v", res, err)
	}
	if _, err := db.DropStore(ctx, "default", "s"); err != nil { // 7
		t.Fatal(err)
	}
	want := []string{
		`1 create_store s "" ""`,
		`2 put s "a" "1"`,
		`3 put s "a" "2"`,
		`4 delete s "a" ""`,
		`4 put s "b" "x"`,
		`6 put s "b" "y"`,
		`7 drop_store s "" ""`,
	}
	sameLines(t, "live", collect(t, plain, len(want)), want)
	wantOld := []string{
		`1 create_store s "" ""`,
		`2 put s "a" "1"`,
		`3 put s "a" "2" old="1" existed=true`,
		`4 delete s "a" "" old="2" existed=true`,
		`4 put s "b" "x"`,
		`6 put s "b" "y" old="x" existed=true`,
		`7 drop_store s "" ""`,
	}
	sameLines(t, "old values", collect(t, old, len(wantOld)), wantOld)
	if got := plain.Resume(); got != 8 {
		t.Fatalf("Resume = %d after reading through seq 7, want 8", got)
	}

	// The same history read back from seq 1, from the feed and from the
	// journal (a node with a tiny feed), with filters.
	for _, tc := range []struct {
		opts sop.WatchOptions
		want []string
	}{
		{sop.WatchOptions{From: 1}, want},
		{sop.WatchOptions{From: 3, Prefix: []byte("a")}, []string{want[2], want[3]}},
		{sop.WatchOptions{From: 4, Store: "s"}, want[3:]},
		{sop.WatchOptions{From: 5, Store: "other"}, nil},
	} {
		w, err := db.Watch(ctx, "default", tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		sameLines(t, fmt.Sprintf("%+v", tc.opts), collect(t, w, len(tc.want)), tc.want)
		// Nothing more: the next read waits.
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		ev, err := w.Next(short)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%+v: after the history, Next gave %s, %v; want a timeout", tc.opts, describeEvent(ev), err)
		}
		w.Close()
	}
}

// TestWatchJournalEqualsFeed runs a random workload and checks that
// watchers reading the journal (after a restart, with a feed too small to
// hold the history) see exactly the events a live watcher saw, filtered
// alike.
func TestWatchJournalEqualsFeed(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 7))
	dir := t.TempDir()
	db := openTest(t, dir, func(o *sop.Options) { o.WatchHistory = 50 })
	live, err := db.Watch(ctx, "default", sop.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mustCreateStore(t, db, "default", "x")
	mustCreateStore(t, db, "default", "y")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []string
	var resume uint64
	wg.Go(func() {
		for {
			ev, err := live.Next(ctx)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, describeEvent(ev))
			resume = live.Resume()
			mu.Unlock()
		}
	})
	for range 300 {
		_, err := db.Update(ctx, "default", func(tx *sop.Tx) error {
			for range 1 + rng.IntN(4) {
				store := []string{"x", "y"}[rng.IntN(2)]
				key := []byte(fmt.Sprintf("%c%02d", 'a'+rng.IntN(3), rng.IntN(20)))
				var err error
				if rng.IntN(3) == 0 {
					err = tx.Delete(store, key)
				} else {
					err = tx.Put(store, key, []byte(fmt.Sprint(rng.Uint32())))
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The last transaction has an event for certain.
	applied, err := db.Update(ctx, "default", func(tx *sop.Tx) error { return tx.Put("x", []byte("end"), nil) })
	if err != nil {
		t.Fatal(err)
	}
	if err := db.WaitApplied(ctx, "default", applied); err != nil {
		t.Fatal(err)
	}
	// Wait until the live watcher has read everything, then stop it.
	for {
		mu.Lock()
		r := resume
		mu.Unlock()
		if r > applied {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if _, err := live.Next(ctx); !errors.Is(err, sop.ErrClosed) {
		t.Fatalf("Next after Close = %v, want ErrClosed", err)
	}

	db = openTest(t, dir, func(o *sop.Options) { o.WatchHistory = 50 })
	filter := func(f func(string) bool) []string {
		var out []string
		for _, s := range got {
			if f(s) {
				out = append(out, s)
			}
		}
		return out
	}
	for _, tc := range []struct {
		opts sop.WatchOptions
		want []string
	}{
		{sop.WatchOptions{From: 1}, got},
		{sop.WatchOptions{From: 1, Store: "y"}, filter(func(s string) bool { return bytes.Contains([]byte(s), []byte(" y ")) })},
		{sop.WatchOptions{From: 1, Prefix: []byte("b")}, filter(func(s string) bool { return bytes.Contains([]byte(s), []byte(` "b`)) })},
	} {
		w, err := db.Watch(ctx, "default", tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		sameLines(t, fmt.Sprintf("journal %+v", tc.opts), collect(t, w, len(tc.want)), tc.want)
		w.Close()
	}
	// Old values are only in memory, and the restarted feed starts at the
	// checkpoint.
	_, err = db.Watch(ctx, "default", sop.WatchOptions{From: 1, OldValues: true})
	var cerr *sop.CompactedError
	if !errors.As(err, &cerr) || cerr.FirstSeq != applied+1 {
		t.Fatalf("watch with old values from 1 = %v, want a CompactedError naming seq %d", err, applied+1)
	}
}

// TestWatchSlowWatcherCutOff: a watcher that stops reading does not hold
// up commits; it is cut off with the seq to resume from, and a watch from
// there misses nothing and repeats nothing.
func TestWatchSlowWatcherCutOff(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, "", func(o *sop.Options) { o.WatchHistory = 20 })
	mustCreateStore(t, db, "default", "s")
	w, err := db.Watch(ctx, "default", sop.WatchOptions{Store: "s"})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 200 {
		seq, err := db.Update(ctx, "default", func(tx *sop.Tx) error {
			return tx.Put("s", []byte(fmt.Sprintf("k%03d", i)), []byte("v"))
		})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf(`%d put s "k%03d" "v"`, seq, i))
		if i == 5 {
			sameLines(t, "first events", collect(t, w, 3), want[:3])
		}
	}
	var got []string
	for {
		ev, err := w.Next(ctx)
		var behind *sop.BehindError
		if errors.As(err, &behind) {
			if behind.ResumeFrom != w.Resume() {
				t.Fatalf("BehindError resumes from %d, Resume() says %d", behind.ResumeFrom, w.Resume())
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, describeEvent(ev))
	}
	if len(got) >= len(want)-3 {
		t.Fatalf("the stalled watcher read %d events and was not cut off", len(got))
	}
	w2, err := db.Watch(ctx, "default", sop.WatchOptions{Store: "s", From: w.Resume()})
	if err != nil {
		t.Fatal(err)
	}
	got = append(append(want[:3:3], got...), collect(t, w2, len(want)-3-len(got))...)
	sameLines(t, "cut off and resumed", got, want)
}

// TestWatchManyWatchers: 100 watchers, some filtered, read while 4 writers
// commit; each sees every matching event once, in seq order.
func TestWatchManyWatchers(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, "")
	mustCreateStore(t, db, "default", "s")
	const writers, perWriter, watchers = 4, 50, 100
	type result struct {
		seqs []uint64
		err  error
	}
	results := make([]result, watchers)
	var wg sync.WaitGroup
	for i := range watchers {
		opts := sop.WatchOptions{From: 2}
		if i%2 == 1 {
			opts.Prefix = []byte(fmt.Sprintf("w%d-", i%writers))
		}
		w, err := db.Watch(ctx, "default", opts)
		if err != nil {
			t.Fatal(err)
		}
		want := writers * perWriter
		if opts.Prefix != nil {
			want = perWriter
		}
		wg.Go(func() {
			defer w.Close()
			ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			for len(results[i].seqs) < want {
				ev, err := w.Next(ctx)
				if err != nil {
					results[i].err = err
					return
				}
				results[i].seqs = append(results[i].seqs, ev.Seq)
			}
		})
	}
	var wwg sync.WaitGroup
	for wr := range writers {
		wwg.Go(func() {
			for j := range perWriter {
				_, err := db.Update(ctx, "default", func(tx *sop.Tx) error {
					return tx.Put("s", []byte(fmt.Sprintf("w%d-%03d", wr, j)), []byte("v"))
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wwg.Wait()
	wg.Wait()
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("watcher %d: %v", i, r.err)
		}
		for j := 1; j < len(r.seqs); j++ {
			if r.seqs[j] <= r.seqs[j-1] {
				t.Fatalf("watcher %d: seq %d after %d", i, r.seqs[j], r.seqs[j-1])
			}
		}
		if i%2 == 0 && (r.seqs[0] != 2 || r.seqs[len(r.seqs)-1] != 1+writers*perWriter) {
			t.Fatalf("watcher %d saw seqs %d..%d, want 2..%d", i, r.seqs[0], r.seqs[len(r.seqs)-1], 1+writers*perWriter)
		}
	}
}

// TestWaitApplied: a wait for a future seq returns once it is applied, and
// gives up with its context.
func TestWaitApplied(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, "")
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := db.WaitApplied(short, "default", 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait for seq 1 of an empty domain = %v, want a timeout", err)
	}
	done := make(chan error, 1)
	go func() { done <- db.WaitApplied(ctx, "default", 2) }()
	mustCreateStore(t, db, "default", "a")
	mustCreateStore(t, db, "default", "b")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, err := db.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].Applied != 2 || st[0].JournalLast != 2 || st[0].JournalFirst != 1 || st[0].Role != sop.RoleLeader || st[0].Commits != 2 {
		t.Fatalf("status = %+v", st)
	}
	if err := db.WaitApplied(ctx, "nope", 1); !errors.Is(err, sop.ErrDomainNotFound) {
		t.Fatalf("wait on a missing domain = %v", err)
	}
}

// TestWatchCompacted: a watch from a seq the journal no longer holds fails
// at once naming the first retained seq; one whose position is purged while
// it reads fails the same way on Next.
func TestWatchCompacted(t *testing.T) {
	ctx := context.Background()
	addr := freeAddr(t)
	db := openTest(t, "", func(o *sop.Options) { o.NATSListen = addr; o.WatchHistory = 2 })
	mustCreateStore(t, db, "default", "s")
	for i := range 20 {
		if _, err := db.Update(ctx, "default", func(tx *sop.Tx) error {
			return tx.Put("s", []byte(fmt.Sprint(i)), []byte("v"))
		}); err != nil {
			t.Fatal(err)
		}
	}
	early, err := db.Watch(ctx, "default", sop.WatchOptions{From: 1})
	if err != nil {
		t.Fatal(err)
	}
	fw := newForeignWriter(t, addr)
	if err := fw.stream.Purge(ctx, 10); err != nil {
		t.Fatal(err)
	}
	var cerr *sop.CompactedError
	_, err = db.Watch(ctx, "default", sop.WatchOptions{From: 5})
	if !errors.As(err, &cerr) || cerr.FirstSeq != 10 || cerr.From != 5 {
		t.Fatalf("watch from a purged seq = %v, want a CompactedError naming 10", err)
	}
	if _, err := early.Next(ctx); !errors.As(err, &cerr) || cerr.FirstSeq != 10 {
		t.Fatalf("Next of a watcher whose position was purged = %v, want a CompactedError naming 10", err)
	}
	w, err := db.Watch(ctx, "default", sop.WatchOptions{From: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(t, w, 12); got[0] != `10 put s "8" "v"` || got[11] != `21 put s "19" "v"` {
		t.Fatalf("watch from the first retained seq gave %q", got)
	}
}
