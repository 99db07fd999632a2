// Package locktest is the conformance suite every lock.Leaser passes: the
// in-memory Memory and the Redis client run the same tests, so that a node
// behaves the same on either.
package locktest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/sopd/sop/lock"
)

// Config describes the implementation under test.
type Config struct {
	// New returns n Leasers on one store, as the clients of n nodes share
	// one Redis. The store is new, or holds no name the suite uses (every
	// subtest makes names of its own). New closes the Leasers in
	// t.Cleanup; the suite may close them first.
	New func(t *testing.T, n int) []lock.Leaser
	// Advance lets at least d pass on the clock that expires leases: a
	// fake clock's step for Memory, a sleep for a real store.
	Advance func(t *testing.T, d time.Duration)
	// Short is the ttl of leases the suite lets expire (it then advances
	// 2×Short). Long enough that a real store never expires one between
	// two consecutive calls: 500ms suits a local Redis, and anything a fake
	// clock.
	Short time.Duration
}

// long is the ttl of leases that must not expire during a subtest.
const long = time.Minute

// Run runs the suite's subtests, one after another.
func Run(t *testing.T, c Config) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Config)
	}{
		{"Exclusive", testExclusive},
		{"TokensIncrease", testTokensIncrease},
		{"RenewExtends", testRenewExtends},
		{"LostAfterTakeover", testLostAfterTakeover},
		{"LostAfterExpiry", testLostAfterExpiry},
		{"ReleaseOnlyByOwner", testReleaseOnlyByOwner},
		{"ExpiryFrees", testExpiryFrees},
		{"ConcurrentAcquire", testConcurrentAcquire},
		{"NamesIsolated", testNamesIsolated},
		{"NoGhostAcrossIncarnations", testNoGhost},
		{"Context", testContext},
		{"BadArgs", testBadArgs},
		{"Close", testClose},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, c) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// name returns a lease name no other subtest or run uses.
func name(t *testing.T, part string) string {
	return fmt.Sprintf("locktest/%s/%s/%08x", t.Name(), part, rand.Uint32())
}

func acquire(t *testing.T, l lock.Leaser, name string, ttl time.Duration) lock.Lease {
	t.Helper()
	ls, err := l.Acquire(ctx(t), name, ttl)
	if err != nil {
		t.Fatalf("acquire %s: %v", name, err)
	}
	if ls.Name != name || ls.Owner == "" || ls.Token == 0 || ls.Expires.IsZero() {
		t.Fatalf("acquire %s returned %+v", name, ls)
	}
	return ls
}

// wantHeld checks that Acquire of name through l fails with a *HeldError
// naming holder.
func wantHeld(t *testing.T, l lock.Leaser, holder lock.Lease) {
	t.Helper()
	_, err := l.Acquire(ctx(t), holder.Name, long)
	var he *lock.HeldError
	if !errors.Is(err, lock.ErrHeld) || !errors.As(err, &he) || he.Name != holder.Name || he.Owner != holder.Owner || he.Expires.IsZero() {
		t.Fatalf("acquire of %s held by %s: %v", holder.Name, holder.Owner, err)
	}
}

func wantLost(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, lock.ErrLost) {
		t.Fatalf("%s: %v, want ErrLost", what, err)
	}
}

func release(t *testing.T, l lock.Leaser, ls lock.Lease) {
	t.Helper()
	if err := l.Release(ctx(t), ls); err != nil {
		t.Fatalf("release %s: %v", ls.Name, err)
	}
}

// expire lets every Short lease granted so far expire.
func expire(t *testing.T, c Config) { c.Advance(t, 2*c.Short) }

func testExclusive(t *testing.T, c Config) {
	ls := c.New(t, 2)
	a, b := ls[0], ls[1]
	n := name(t, "x")
	held := acquire(t, a, n, long)
	wantHeld(t, b, held)
	wantHeld(t, a, held) // not reentrant: a second grant to the same Leaser is refused too
	if r, err := a.Renew(ctx(t), held, long); err != nil || r.Owner != held.Owner || r.Token != held.Token {
		t.Fatalf("renew after refused acquires: %+v, %v", r, err)
	}
}

func testTokensIncrease(t *testing.T, c Config) {
	ls := c.New(t, 2)
	n := name(t, "x")
	var last uint64
	next := func(l lock.Leaser, ttl time.Duration) lock.Lease {
		t.Helper()
		g := acquire(t, l, n, ttl)
		if g.Token <= last {
			t.Fatalf("grant of %s has token %d after %d", n, g.Token, last)
		}
		last = g.Token
		return g
	}
	// Released, then granted to either Leaser.
	for i := range 4 {
		release(t, ls[i%2], next(ls[i%2], long))
	}
	// Expired and granted to the other Leaser, then back.
	next(ls[0], c.Short)
	expire(t, c)
	next(ls[1], c.Short)
	expire(t, c)
	g := next(ls[0], long)
	// Renewing keeps the token.
	if r, err := ls[0].Renew(ctx(t), g, long); err != nil || r.Token != g.Token {
		t.Fatalf("renew changed the token %d: %+v, %v", g.Token, r, err)
	}
	// Refused acquires do not move the next token below the last.
	wantHeld(t, ls[1], g)
	release(t, ls[0], g)
	next(ls[1], long)
}

func testRenewExtends(t *testing.T, c Config) {
	ls := c.New(t, 2)
	a, b := ls[0], ls[1]
	g := acquire(t, a, name(t, "x"), c.Short)
	r, err := a.Renew(ctx(t), g, long)
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != g.Name || r.Owner != g.Owner || r.Token != g.Token || !r.Expires.After(g.Expires) {
		t.Fatalf("renew of %+v for %v returned %+v", g, long, r)
	}
	expire(t, c) // past the first ttl, well within the second
	wantHeld(t, b, g)
	if _, err := a.Renew(ctx(t), r, long); err != nil {
		t.Fatalf("renew again: %v", err)
	}
	// Renewing may shorten a lease too.
	if _, err := a.Renew(ctx(t), r, c.Short); err != nil {
		t.Fatal(err)
	}
	expire(t, c)
	acquire(t, b, g.Name, long)
}

func testLostAfterTakeover(t *testing.T, c Config) {
	ls := c.New(t, 2)
	a, b := ls[0], ls[1]
	old := acquire(t, a, name(t, "x"), c.Short)
	expire(t, c)
	cur := acquire(t, b, old.Name, long)
	if cur.Token <= old.Token {
		t.Fatalf("takeover token %d after %d", cur.Token, old.Token)
	}
	_, err := a.Renew(ctx(t), old, long)
	wantLost(t, "renew by the deposed holder", err)
	wantLost(t, "release by the deposed holder", a.Release(ctx(t), old))
	wantHeld(t, a, cur)
	if _, err := b.Renew(ctx(t), cur, long); err != nil {
		t.Fatalf("renew by the new holder: %v", err)
	}
}

func testLostAfterExpiry(t *testing.T, c Config) {
	ls := c.New(t, 2)
	a, b := ls[0], ls[1]
	g := acquire(t, a, name(t, "renew"), c.Short)
	h := acquire(t, a, name(t, "release"), c.Short)
	expire(t, c)
	_, err := a.Renew(ctx(t), g, long)
	wantLost(t, "renew of an expired lease nobody took", err)
	wantLost(t, "release of an expired lease nobody took", a.Release(ctx(t), h))
	acquire(t, b, g.Name, long)
	acquire(t, b, h.Name, long)
}

func testReleaseOnlyByOwner(t *testing.T, c Config) {
	ls := c.New(t, 2)
	a, b := ls[0], ls[1]
	g := acquire(t, a, name(t, "x"), long)
	wantLost(t, "release through another Leaser", b.Release(ctx(t), g))
	_, err := b.Renew(ctx(t), g, long)
	wantLost(t, "renew through another Leaser", err)
	forged := g
	forged.Owner += "-forged"
	wantLost(t, "release with a forged owner", a.Release(ctx(t), forged))
	_, err = a.Renew(ctx(t), forged, long)
	wantLost(t, "renew with a forged owner", err)
	wantHeld(t, b, g)

	release(t, a, g)
	wantLost(t, "second release", a.Release(ctx(t), g))
	_, err = a.Renew(ctx(t), g, long)
	wantLost(t, "renew after release", err)
	h := acquire(t, b, g.Name, long)
	// A released-then-regranted name: the old grant cannot release the new.
	wantLost(t, "release of the old grant", a.Release(ctx(t), g))
	wantHeld(t, a, h)
}

func testExpiryFrees(t *testing.T, c Config) {
	ls := c.New(t, 2)
	a, b := ls[0], ls[1]
	g := acquire(t, a, name(t, "x"), c.Short)
	wantHeld(t, b, g)
	expire(t, c)
	acquire(t, b, g.Name, long)
}

// testConcurrentAcquire races acquirers on several Leasers for one name:
// exactly one wins each round, with a token above the last round's.
func testConcurrentAcquire(t *testing.T, c Config) {
	const leasers, perLeaser, rounds = 3, 4, 5
	ls := c.New(t, leasers)
	n := name(t, "x")
	var last uint64
	for round := range rounds {
		var wg sync.WaitGroup
		wins := make(chan struct {
			l lock.Leaser
			g lock.Lease
		}, leasers*perLeaser)
		for i := range leasers * perLeaser {
			l := ls[i%leasers]
			wg.Go(func() {
				g, err := l.Acquire(ctx(t), n, long)
				switch {
				case err == nil:
					wins <- struct {
						l lock.Leaser
						g lock.Lease
					}{l, g}
				case !errors.Is(err, lock.ErrHeld):
					t.Errorf("round %d acquirer %d: %v", round, i, err)
				}
			})
		}
		wg.Wait()
		close(wins)
		if len(wins) != 1 {
			t.Fatalf("round %d: %d acquirers won, want exactly 1", round, len(wins))
		}
		w := <-wins
		if w.g.Token <= last {
			t.Fatalf("round %d: token %d after %d", round, w.g.Token, last)
		}
		last = w.g.Token
		release(t, w.l, w.g)
	}
}

func testNamesIsolated(t *testing.T, c Config) {
	ls := c.New(t, 2)
	a, b := ls[0], ls[1]
	x := acquire(t, a, name(t, "x"), long)
	y := acquire(t, b, name(t, "y"), long)
	prefix := acquire(t, b, x.Name+"/more", long) // a name that extends another is its own
	release(t, a, x)
	wantHeld(t, a, y)
	wantHeld(t, a, prefix)
	if _, err := b.Renew(ctx(t), y, long); err != nil {
		t.Fatalf("renew of y after releasing x: %v", err)
	}
	acquire(t, b, x.Name, long)
}

// testNoGhost: a domain deleted and recreated under the same name gets a
// new incarnation, and its lease is free at once, though a node of the old
// incarnation still holds (and renews) the old one.
func testNoGhost(t *testing.T, c Config) {
	ls := c.New(t, 2)
	oldNode, newNode := ls[0], ls[1]
	cluster, domain := name(t, "cluster"), "orders"
	ghost := acquire(t, oldNode, lock.Name(cluster, domain, "inc-1"), long)
	fresh := acquire(t, newNode, lock.Name(cluster, domain, "inc-2"), long)
	if ghost.Name == fresh.Name {
		t.Fatalf("two incarnations share the lease name %q", ghost.Name)
	}
	if _, err := oldNode.Renew(ctx(t), ghost, long); err != nil {
		t.Fatalf("the old incarnation's lease: %v", err)
	}
	wantHeld(t, oldNode, fresh)
	// Other clusters and domains are other names too.
	acquire(t, oldNode, lock.Name(cluster+"-2", domain, "inc-1"), long)
	acquire(t, oldNode, lock.Name(cluster, domain+"-2", "inc-1"), long)
}

func testContext(t *testing.T, c Config) {
	ls := c.New(t, 2)
	a, b := ls[0], ls[1]
	done, cancel := context.WithCancel(context.Background())
	cancel()
	n := name(t, "x")
	if _, err := a.Acquire(done, n, long); !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire with a cancelled ctx: %v", err)
	}
	g := acquire(t, b, n, long) // the cancelled acquire took nothing
	if _, err := b.Renew(done, g, long); !errors.Is(err, context.Canceled) {
		t.Fatalf("renew with a cancelled ctx: %v", err)
	}
	if err := b.Release(done, g); !errors.Is(err, context.Canceled) {
		t.Fatalf("release with a cancelled ctx: %v", err)
	}
	wantHeld(t, a, g) // the cancelled release released nothing
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	if _, err := a.Acquire(expired, name(t, "y"), long); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire past its deadline: %v", err)
	}
}

func testBadArgs(t *testing.T, c Config) {
	l := c.New(t, 1)[0]
	if _, err := l.Acquire(ctx(t), "", long); !errors.Is(err, lock.ErrBadName) {
		t.Fatalf("acquire of an empty name: %v", err)
	}
	for _, ttl := range []time.Duration{0, -time.Second, time.Microsecond} {
		if _, err := l.Acquire(ctx(t), name(t, "x"), ttl); !errors.Is(err, lock.ErrBadTTL) {
			t.Fatalf("acquire for %v: %v", ttl, err)
		}
	}
	g := acquire(t, l, name(t, "x"), long)
	if _, err := l.Renew(ctx(t), g, 0); !errors.Is(err, lock.ErrBadTTL) {
		t.Fatalf("renew for 0: %v", err)
	}
	if _, err := l.Renew(ctx(t), g, long); err != nil {
		t.Fatalf("renew after a refused renew: %v", err)
	}
}

func testClose(t *testing.T, c Config) {
	ls := c.New(t, 2)
	a, b := ls[0], ls[1]
	g := acquire(t, a, name(t, "x"), long)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := a.Acquire(ctx(t), name(t, "y"), long); !errors.Is(err, lock.ErrClosed) {
		t.Fatalf("acquire after close: %v", err)
	}
	if _, err := a.Renew(ctx(t), g, long); !errors.Is(err, lock.ErrClosed) {
		t.Fatalf("renew after close: %v", err)
	}
	if err := a.Release(ctx(t), g); !errors.Is(err, lock.ErrClosed) {
		t.Fatalf("release after close: %v", err)
	}
	wantHeld(t, b, g) // closing does not release
	if _, err := b.Acquire(ctx(t), name(t, "z"), long); err != nil {
		t.Fatalf("another Leaser after one closed: %v", err)
	}
}
