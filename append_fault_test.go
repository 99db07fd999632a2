package sop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sopd/sop/journal"
	"github.com/sopd/sop/lock"
)

// faultyJournal makes chosen appends fail as a journal whose connection
// broke would: before anything is stored, after all of it is, or after the
// first half of the group is.
type faultyJournal struct {
	journal.Journal
	mu      sync.Mutex
	mode    string        // "", "lost", "landed", "half", "hold": what the next Append does
	then    string        // the mode after a "hold"
	release chan struct{} // a "hold" append waits for it
	entered chan struct{} // closed when a "hold" append begins
}

func (f *faultyJournal) Append(ctx context.Context, expectLast journal.Seq, msgs []journal.Msg) (journal.Seq, error) {
	f.mu.Lock()
	mode := f.mode
	f.mode = f.then
	f.then = ""
	f.mu.Unlock()
	switch mode {
	case "hold":
		close(f.entered)
		<-f.release
	case "lost":
		return 0, fmt.Errorf("%w: connection lost before the publish", journal.ErrUnavailable)
	case "fenced":
		return 0, fmt.Errorf("%w: another writer appended", journal.ErrFenced)
	case "landed":
		if _, err := f.Journal.Append(ctx, expectLast, msgs); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("%w: connection lost before the acknowledgement", journal.ErrUnavailable)
	case "half":
		if _, err := f.Journal.Append(ctx, expectLast, msgs[:len(msgs)/2]); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("%w: connection lost midway", journal.ErrUnavailable)
	}
	return f.Journal.Append(ctx, expectLast, msgs)
}

// faultyStager is a faultyJournal that stages groups: Commit appends what
// was added through the faultyJournal's Append, with its faults.
type faultyStager struct{ *faultyJournal }

func (f faultyStager) Stage(expectLast journal.Seq) journal.Staged {
	return journal.AppendStaged(f.faultyJournal, expectLast)
}

func (f faultyStager) StageLimit() int { return journal.MaxBatch }

// bothPaths runs a fault test with groups appended whole (Append) and with
// every group streamed as it forms (journal.Stager, commitStreamed).
func bothPaths(t *testing.T, test func(t *testing.T, streamed bool)) {
	t.Run("append", func(t *testing.T) { test(t, false) })
	t.Run("streamed", func(t *testing.T) { test(t, true) })
}

func (f *faultyJournal) next(mode string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode = mode
}

// openFaulty opens a node on a fresh dir whose journal is a faultyJournal
// (streamed: a faultyStager, and every group is streamed),
// waits until it leads domain default, and creates store "s" there. The
// node closes when t ends.
func openFaulty(t *testing.T, opts Options, streamed bool) (*DB, *domain, *faultyJournal) {
	t.Helper()
	var fj *faultyJournal
	wrapJournal = func(j journal.Journal) journal.Journal {
		fj = &faultyJournal{Journal: j}
		if streamed {
			return faultyStager{fj}
		}
		return fj
	}
	if streamed {
		plain := streams
		streams = func(int) bool { return true }
		t.Cleanup(func() { streams = plain })
	}
	t.Cleanup(func() { wrapJournal = nil })
	ctx := context.Background()
	opts.Dir = t.TempDir()
	db, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d, err := db.domain(DefaultDomain)
	if err != nil {
		t.Fatal(err)
	}
	for l := d.cur.Load(); l == nil || !l.leader; l = d.cur.Load() {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := db.CreateStore(ctx, DefaultDomain, "s", nil); err != nil {
		t.Fatal(err)
	}
	return db, d, fj
}

// TestAmbiguousAppend: when an append's outcome is unknown the leader
// reads the journal back: requests whose entries landed get their seqs,
// the others ErrUnavailable, and the state is exactly the journal's.
func TestAmbiguousAppend(t *testing.T) { bothPaths(t, testAmbiguousAppend) }

func testAmbiguousAppend(t *testing.T, streamed bool) {
	ctx := context.Background()
	db, d, fj := openFaulty(t, Options{}, streamed)
	put := func(key string) (uint64, error) {
		return db.Update(ctx, DefaultDomain, func(tx *Tx) error { return tx.Put("s", []byte(key), []byte(key)) })
	}
	get := func(key string) bool {
		var found bool
		err := db.View(ctx, DefaultDomain, func(tx *Tx) error {
			_, ok, err := tx.Get("s", []byte(key))
			found = ok
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return found
	}

	fj.next("lost")
	if _, err := put("lost"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("commit whose append never reached the journal = %v, want ErrUnavailable", err)
	}
	if get("lost") {
		t.Fatal("a commit that failed is visible")
	}

	fj.next("landed")
	seq, err := put("landed")
	if err != nil || seq != 2 {
		t.Fatalf("commit whose append landed but was not acknowledged: seq %d, %v; want seq 2", seq, err)
	}
	if !get("landed") {
		t.Fatal("the landed commit is not visible")
	}

	// A group of eight, half of which lands: the leader is held in the
	// append of a first commit while the eight queue, so they form the
	// next group.
	fj.mu.Lock()
	fj.mode, fj.then, fj.release, fj.entered = "hold", "half", make(chan struct{}), make(chan struct{})
	fj.mu.Unlock()
	held := make(chan error, 1)
	go func() { _, err := put("held"); held <- err }()
	<-fj.entered
	var wg sync.WaitGroup
	results := make([]error, 8)
	seqs := make([]uint64, 8)
	for i := range results {
		wg.Go(func() { seqs[i], results[i] = put(fmt.Sprint("g", i)) })
	}
	for len(d.cur.Load().reqs) < 8 {
		runtime.Gosched()
	}
	close(fj.release)
	wg.Wait()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	landed := 0
	for i, err := range results {
		visible := get(fmt.Sprint("g", i))
		switch {
		case err == nil && !visible:
			t.Fatalf("g%d was acknowledged at seq %d but is not visible", i, seqs[i])
		case err != nil && visible:
			t.Fatalf("g%d failed (%v) but is visible", i, err)
		case err != nil && !errors.Is(err, ErrUnavailable):
			t.Fatalf("g%d: %v", i, err)
		case err == nil:
			landed++
		}
	}
	if landed != 4 {
		t.Fatalf("%d of the group of 8 were acknowledged; the journal took the first 4", landed)
	}
	// The node goes on, and its state is the journal's.
	if _, err := put("after"); err != nil {
		t.Fatal(err)
	}
	applied, _ := db.Applied(DefaultDomain)
	_, last, err := db.JournalBounds(ctx, DefaultDomain)
	if err != nil || last != applied {
		t.Fatalf("applied %d, journal ends at %d (%v)", applied, last, err)
	}
	if err := db.Check(DefaultDomain); err != nil {
		t.Fatal(err)
	}
}

// TestFencedLeaderStops: in cluster mode a fenced append makes the leader
// confirm its lease before anything else. While it still holds the lease
// (the fence came from something else) the group runs again and commits;
// once another node holds the lease the request fails with ErrNotLeader,
// nothing is committed, and the node stops leading.
func TestFencedLeaderStops(t *testing.T) { bothPaths(t, testFencedLeaderStops) }

func testFencedLeaderStops(t *testing.T, streamed bool) {
	var skew atomic.Int64 // the lease store's clock runs ahead by this much
	leases := lock.NewMemory(lock.MemoryOptions{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	ctx := context.Background()
	// A long lease: no periodic renewal happens during the test.
	db, d, fj := openFaulty(t, Options{Leases: leases, LeaseTTL: time.Hour}, streamed)
	created, _ := db.Applied(DefaultDomain)
	if created != 2 {
		t.Fatalf("the first commit of a new leader got seq %d; want 2, after its leader entry", created)
	}
	put := func() (uint64, error) {
		return db.Update(ctx, DefaultDomain, func(tx *Tx) error { return tx.Put("s", []byte("k"), nil) })
	}

	fj.next("fenced")
	if seq, err := put(); err != nil || seq != created+1 {
		t.Fatalf("a fenced commit of a leader that still holds its lease: seq %d, %v; want %d, nil", seq, err, created+1)
	}

	skew.Store(int64(2 * time.Hour))
	if _, err := leases.Peer().Acquire(ctx, d.leaseName(), time.Hour); err != nil {
		t.Fatalf("another node takes the expired lease: %v", err)
	}
	fj.next("fenced")
	// The write waits for a new leader (none comes: the other node is only
	// a lease holder) until its context ends: ErrNotLeader, or, when the
	// context ended while a forward to the commit subject was in flight,
	// ErrUnavailable (outcome unknown to the caller); nothing is committed
	// either way.
	pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err := db.Update(pctx, DefaultDomain, func(tx *Tx) error { return tx.Put("s", []byte("k"), nil) })
	if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a fenced commit after another node took the lease = %v, want ErrNotLeader (or ErrUnavailable)", err)
	}
	if applied, _ := db.Applied(DefaultDomain); applied != created+1 {
		t.Fatalf("applied %d after the refused commit, want %d", applied, created+1)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if l := d.cur.Load(); l != nil && !l.leader {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the node still leads 10s after another node took its lease")
		}
	}
}

// TestWireErrors: a forwarded commit's error keeps its most specific
// sentinel across the wire.
func TestWireErrors(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("%w: %w", ErrAlreadyCommitted, ErrConflict),
		fmt.Errorf("%w: x", ErrStoreNotFound),
		fmt.Errorf("%w: %w", ErrDomainFailed, ErrUnavailable),
		ErrConflict,
	} {
		got := wireError(wireCode(err))
		if !errors.Is(err, got) {
			t.Errorf("%v went over the wire as %v", err, got)
		}
	}
	if wireCode(errors.New("odd")) != "internal" || wireError("from-the-future") != ErrUnavailable {
		t.Error("unknown errors and codes")
	}
	if wireCode(fmt.Errorf("%w: %w", ErrAlreadyCommitted, ErrConflict)) != "already_committed" {
		t.Error("the most specific sentinel does not win")
	}
}

// TestStagedAnswersWaitForTheAppend: a request answered without an entry
// from state its group staged (here a compare that fails because of a put
// earlier in the same group) is answered only once the group is in the
// journal. When the group's append is lost, the compare's "failed" would
// rest on a put that never happened: it is not given; the request fails
// with ErrUnavailable (it wrote nothing) like the rest of the group.
func TestStagedAnswersWaitForTheAppend(t *testing.T) { bothPaths(t, testStagedAnswersWaitForTheAppend) }

func testStagedAnswersWaitForTheAppend(t *testing.T, streamed bool) {
	ctx := context.Background()
	db, d, fj := openFaulty(t, Options{}, streamed)
	put := func(key string) error {
		_, err := db.Update(ctx, DefaultDomain, func(tx *Tx) error { return tx.Put("s", []byte(key), []byte("v")) })
		return err
	}
	// Hold the append of a first commit, so that the put and then the
	// compare queue and form the next group, whose append is lost.
	fj.mu.Lock()
	fj.mode, fj.then, fj.release, fj.entered = "hold", "lost", make(chan struct{}), make(chan struct{})
	fj.mu.Unlock()
	held := make(chan error, 1)
	go func() { held <- put("held") }()
	<-fj.entered
	putErr := make(chan error, 1)
	go func() { putErr <- put("k") }()
	for len(d.cur.Load().reqs) < 1 {
		runtime.Gosched()
	}
	type answer struct {
		res TxnResult
		err error
	}
	txnAnswer := make(chan answer, 1)
	go func() {
		res, err := db.Txn(ctx, DefaultDomain, TxnRequest{
			Compare: []Compare{{Store: "s", Key: []byte("k"), Absent: true}},
			Success: []Op{{Store: "s", Key: []byte("k"), Value: []byte("w")}},
		})
		txnAnswer <- answer{res, err}
	}()
	for len(d.cur.Load().reqs) < 2 {
		runtime.Gosched()
	}
	close(fj.release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if err := <-putErr; !errors.Is(err, ErrUnavailable) {
		t.Fatalf("the put whose append was lost: %v, want ErrUnavailable", err)
	}
	a := <-txnAnswer
	if a.err == nil {
		t.Fatalf("the compare answered %+v from a put that never landed; want ErrUnavailable", a.res)
	}
	if !errors.Is(a.err, ErrUnavailable) {
		t.Fatalf("the compare: %v, want ErrUnavailable", a.err)
	}
	err := db.View(ctx, DefaultDomain, func(tx *Tx) error {
		if _, ok, err := tx.Get("s", []byte("k")); err != nil || ok {
			return fmt.Errorf("k after the lost append: present %v, %v", ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLeaderSeesAnotherLeader: a leader that, catching up after a failed
// append, finds another node's entry after its own leader entry (another
// node took the lease, say after a Redis restart the leader has not
// noticed yet) stops leading at once: the requests fail with ErrNotLeader
// and nothing more of it lands, though its own lease looks valid.
func TestLeaderSeesAnotherLeader(t *testing.T) { bothPaths(t, testLeaderSeesAnotherLeader) }

func testLeaderSeesAnotherLeader(t *testing.T, streamed bool) {
	ctx := context.Background()
	db, d, fj := openFaulty(t, Options{Leases: lock.NewMemory(lock.MemoryOptions{}), LeaseTTL: time.Hour}, streamed)
	// Another node's leader entry and one commit of it land.
	_, last, err := fj.Journal.Bounds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []journal.Msg
	for i, id := range []string{leaderTxID("other", 1<<40), "other-commit"} {
		e := journal.Entry{TxID: id, Domain: DefaultDomain, Node: "other", Time: int64(i + 1)}
		if id == "other-commit" {
			e.Ops = []journal.Op{{Kind: journal.OpPut, Store: "s", Key: []byte("theirs"), Value: []byte("1")}}
		}
		b, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, journal.Msg{ID: id, Data: b})
	}
	if _, err := fj.Journal.Append(ctx, last, msgs); err != nil {
		t.Fatal(err)
	}
	// This leader's next append is lost (not fenced): catching up, it finds
	// the other node's entries.
	fj.next("lost")
	pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err = db.Update(pctx, DefaultDomain, func(tx *Tx) error { return tx.Put("s", []byte("mine"), nil) })
	// ErrNotLeader, or ErrUnavailable when the context ended during the
	// forward that followed (the write looks for the new leader).
	if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a commit after another node's leader entry = %v, want ErrNotLeader", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if l := d.cur.Load(); l != nil && !l.leader {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the node still leads after it saw another node's leader entry")
		}
	}
	_, end, err := fj.Journal.Bounds(ctx)
	if err != nil || end != last+2 {
		t.Fatalf("the journal ends at %d (%v), want %d: this node appended after the other's leader entry", end, err, last+2)
	}
}

// stallingJournal's second Follow call (the follower loop's, after the
// replay at open) delivers nothing and never ends on its own: a
// subscription a NATS server's death left hanging.
type stallingJournal struct {
	journal.Journal
	calls atomic.Int32
}

func (s *stallingJournal) Follow(ctx context.Context, from journal.Seq, fn func(journal.Record) error) error {
	if s.calls.Add(1) == 2 {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.Journal.Follow(ctx, from, fn)
}

// TestFollowerRestartsStalledSubscription: a follower whose subscription
// delivers nothing while the journal grows starts it again (after a few
// seconds) and catches up.
func TestFollowerRestartsStalledSubscription(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv, err := journal.StartServer(journal.ServerOptions{Dir: t.TempDir(), Listen: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	leader, err := Open(ctx, Options{Dir: t.TempDir(), NATSURL: srv.ClientURL()})
	if err != nil {
		t.Fatal(err)
	}
	defer leader.Close()
	if _, err := leader.CreateStore(ctx, DefaultDomain, "s", nil); err != nil {
		t.Fatal(err)
	}
	sj := &stallingJournal{}
	wrapJournal = func(j journal.Journal) journal.Journal {
		sj.Journal = j
		return sj
	}
	follower, err := Open(ctx, Options{Dir: t.TempDir(), NATSURL: srv.ClientURL(), Follower: true})
	wrapJournal = nil
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Close()
	seq, err := leader.Update(ctx, DefaultDomain, func(tx *Tx) error { return tx.Put("s", []byte("k"), []byte("v")) })
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := follower.WaitApplied(wctx, DefaultDomain, seq); err != nil {
		t.Fatalf("the follower never applied seq %d: %v", seq, err)
	}
	if sj.calls.Load() < 3 {
		t.Fatalf("the follower applied seq %d without starting its subscription again (%d Follow calls)", seq, sj.calls.Load())
	}
}

// TestGroupLargerThanAStagedGroup: with MaxGroup above what one staged
// group takes, a group that large goes the plain way (Append splits it
// into batches) and every request commits, though groups are streamed
// otherwise.
func TestGroupLargerThanAStagedGroup(t *testing.T) {
	ctx := context.Background()
	db, d, fj := openFaulty(t, Options{MaxGroup: 2000}, true)
	put := func(key string) error {
		_, err := db.Update(ctx, DefaultDomain, func(tx *Tx) error { return tx.Put("s", []byte(key), []byte("v")) })
		return err
	}
	// Hold the append of a first commit while 1,200 more queue: they form
	// the next group.
	fj.mu.Lock()
	fj.mode, fj.release, fj.entered = "hold", make(chan struct{}), make(chan struct{})
	fj.mu.Unlock()
	held := make(chan error, 1)
	go func() { held <- put("held") }()
	<-fj.entered
	const n = journal.MaxBatch + 200
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- put(fmt.Sprintf("k%04d", i)) }()
	}
	for len(d.cur.Load().reqs) < n {
		runtime.Gosched()
	}
	groups := d.groups.Load()
	close(fj.release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("a request of the large group: %v", err)
		}
	}
	if got := d.groups.Load() - groups; got > 3 {
		t.Fatalf("%d group appends for the held one and %d queued requests, want them in one group (plus the held one)", got, n)
	}
}
