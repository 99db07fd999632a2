package sop_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sopd/sop"
	"github.com/sopd/sop/journal"
	"github.com/sopd/sop/lock"
)

// roleOf is domain default's role on db.
func roleOf(t *testing.T, db *sop.DB) sop.Role {
	t.Helper()
	st, err := db.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st[0].Role
}

// waitFor polls cond until it holds, failing the test after 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLeaseDecidesLeader: two nodes share a journal and a lease store; the
// lease holder leads and the other follows (writes there are
// ErrNotLeader). When the leader closes, the follower takes the lease,
// catches up, and leads from the journal's end; the old leader, reopened,
// follows.
func TestLeaseDecidesLeader(t *testing.T) {
	ctx := context.Background()
	// The journal lives on its own server, so that closing a node leaves it.
	srv, err := journal.StartServer(journal.ServerOptions{Dir: t.TempDir(), Listen: freeAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	url := srv.ClientURL()
	leases := lock.NewMemory(lock.MemoryOptions{})
	dirA := t.TempDir()
	opts := func(o *sop.Options) {
		o.LeaseTTL = 300 * time.Millisecond
		o.ClusterName = "test"
	}
	a, err := sop.Open(ctx, sop.Options{Dir: dirA, NATSURL: url, Leases: leases, LeaseTTL: 300 * time.Millisecond, ClusterName: "test", NodeID: "a", Advertise: "http://a"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "A to lead", func() bool { return roleOf(t, a) == sop.RoleLeader })
	b := openTest(t, "", opts, func(o *sop.Options) {
		o.NATSURL = url
		o.Leases = leases.Peer()
		o.NodeID = "b"
		o.Advertise = "http://b"
	})
	if roleOf(t, b) != sop.RoleFollower {
		t.Fatal("B leads while A holds the lease")
	}
	waitFor(t, "the nodes to hear each other", func() bool {
		ms := b.Members()
		return len(ms) == 2 && ms[0].Roles["default"] != ms[1].Roles["default"]
	})
	for _, m := range b.Members() {
		if want := map[bool]sop.Role{true: sop.RoleLeader, false: sop.RoleFollower}[m.Node == a.Node()]; m.Roles["default"] != want || m.Advertise != "http://"+m.Node {
			t.Fatalf("member %+v, want role %s", m, want)
		}
	}
	mustCreateStore(t, a, "default", "s")
	var last uint64
	for i := range 20 {
		if last, err = a.Update(ctx, "default", func(tx *sop.Tx) error { return tx.Put("s", []byte(fmt.Sprint(i)), []byte("a")) }); err != nil {
			t.Fatal(err)
		}
	}
	// A write on the follower goes to the leader, and the follower reads
	// it at once; a read-modify-write there is checked for conflicts by
	// the leader.
	fseq, err := b.Update(ctx, "default", func(tx *sop.Tx) error { return tx.Put("s", []byte("x"), []byte("via b")) })
	if err != nil || fseq != last+1 {
		t.Fatalf("write on the follower: seq %d, %v; want %d", fseq, err, last+1)
	}
	var got []byte
	if err := b.View(ctx, "default", func(tx *sop.Tx) error {
		it, _, err := tx.Get("s", []byte("x"))
		got = it.Value
		return err
	}); err != nil || string(got) != "via b" {
		t.Fatalf("the follower reads its forwarded write as %q, %v", got, err)
	}
	res, err := b.Txn(ctx, "default", sop.TxnRequest{
		Compare: []sop.Compare{{Store: "s", Key: []byte("x"), Version: fseq}},
		Success: []sop.Op{{Store: "s", Key: []byte("x"), Delete: true}},
	})
	if err != nil || !res.Succeeded {
		t.Fatalf("compare-and-delete through the follower: %+v, %v", res, err)
	}
	var wg sync.WaitGroup
	for range 4 { // concurrent increments from both nodes: none lost
		for _, db := range []*sop.DB{a, b} {
			wg.Go(func() {
				_, err := db.Update(ctx, "default", func(tx *sop.Tx) error {
					it, _, err := tx.Get("s", []byte("n"))
					if err != nil {
						return err
					}
					return tx.Put("s", []byte("n"), append(it.Value, '+'))
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	last, _ = a.Applied("default")
	if err := b.WaitApplied(ctx, "default", last); err != nil {
		t.Fatal(err)
	}
	if err := b.View(ctx, "default", func(tx *sop.Tx) error {
		it, _, err := tx.Get("s", []byte("n"))
		got = it.Value
		return err
	}); err != nil || string(got) != "++++++++" {
		t.Fatalf("8 increments from two nodes gave %q, %v", got, err)
	}
	_, sumA := mustHash(t, a)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to lead", func() bool { return roleOf(t, b) == sop.RoleLeader })
	seq, err := b.Update(ctx, "default", func(tx *sop.Tx) error { return tx.Put("s", []byte("b"), []byte("b")) })
	if err != nil || seq <= last {
		t.Fatalf("first write of the new leader: seq %d, %v; want %d", seq, err, last+1)
	}
	// B held A's state before its own write.
	if _, err := b.Update(ctx, "default", func(tx *sop.Tx) error { return tx.Delete("s", []byte("b")) }); err != nil {
		t.Fatal(err)
	}
	a2 := openTest(t, dirA, opts, func(o *sop.Options) { o.NATSURL = url; o.Leases = leases.Peer() })
	bseq, sumB := mustHash(t, b)
	if err := a2.WaitApplied(ctx, "default", bseq); err != nil {
		t.Fatal(err)
	}
	if roleOf(t, a2) != sop.RoleFollower {
		t.Fatal("the reopened old leader leads while B holds the lease")
	}
	aseq, sumA2 := mustHash(t, a2)
	if aseq != bseq || !bytes.Equal(sumA2, sumB) || !bytes.Equal(sumB, sumA) {
		t.Fatalf("hashes: A before %x, B %x at %d, A reopened %x at %d (B's put and delete of b cancel out)", sumA, sumB, bseq, sumA2, aseq)
	}
}

// TestLeaderLosesLease: the leader's lease expires (its clock jumps) and
// the follower takes it; the old leader stops leading, follows, and
// applies what the new leader commits.
func TestLeaderLosesLease(t *testing.T) {
	ctx := context.Background()
	srv, err := journal.StartServer(journal.ServerOptions{Dir: t.TempDir(), Listen: freeAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	var mu sync.Mutex
	skew := time.Duration(0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(skew) }
	leases := lock.NewMemory(lock.MemoryOptions{Now: now})
	opts := func(o *sop.Options) {
		o.NATSURL = srv.ClientURL()
		o.LeaseTTL = 300 * time.Millisecond
	}
	a := openTest(t, "", opts, func(o *sop.Options) { o.Leases = leases })
	waitFor(t, "A to lead", func() bool { return roleOf(t, a) == sop.RoleLeader })
	b := openTest(t, "", opts, func(o *sop.Options) { o.Leases = leases.Peer() })
	mustCreateStore(t, a, "default", "s")
	// Jump the lease store's clock past A's lease: B may take it, A's next
	// renewal finds it lost.
	mu.Lock()
	skew = time.Hour
	mu.Unlock()
	waitFor(t, "B to lead", func() bool { return roleOf(t, b) == sop.RoleLeader })
	waitFor(t, "A to follow", func() bool { return roleOf(t, a) == sop.RoleFollower })
	var last uint64
	for i := range 10 {
		if last, err = b.Update(ctx, "default", func(tx *sop.Tx) error { return tx.Put("s", []byte(fmt.Sprint(i)), []byte("b")) }); err != nil {
			t.Fatal(err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.WaitApplied(wctx, "default", last); err != nil {
		applied, _ := a.Applied("default")
		t.Fatalf("the old leader applied %d, not %d: %v", applied, last, err)
	}
	// And a write through A goes to B.
	if _, err := a.Update(ctx, "default", func(tx *sop.Tx) error { return tx.Put("s", []byte("via a"), nil) }); err != nil {
		t.Fatal(err)
	}
}
