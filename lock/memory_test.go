package lock_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sopd/sop/lock"
	"github.com/sopd/sop/lock/locktest"
)

// clock is a fake clock, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1_700_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestMemoryConformance(t *testing.T) {
	clk := newClock()
	locktest.Run(t, locktest.Config{
		New: func(t *testing.T, n int) []lock.Leaser {
			m := lock.NewMemory(lock.MemoryOptions{Now: clk.Now})
			ls := []lock.Leaser{m}
			for len(ls) < n {
				ls = append(ls, m.Peer())
			}
			t.Cleanup(func() {
				for _, l := range ls {
					l.Close()
				}
			})
			return ls[:n]
		},
		Advance: func(_ *testing.T, d time.Duration) { clk.Advance(d) },
		Short:   time.Second,
	})
}

// TestMemoryExpiryExact checks expiry to the nanosecond on the injected
// clock: a lease is held before now+ttl and free from it on.
func TestMemoryExpiryExact(t *testing.T) {
	clk := newClock()
	m := lock.NewMemory(lock.MemoryOptions{Now: clk.Now})
	start := clk.Now()
	g, err := m.Acquire(t.Context(), "x", time.Second)
	if err != nil || !g.Expires.Equal(start.Add(time.Second)) {
		t.Fatalf("acquire: %+v, %v", g, err)
	}
	clk.Advance(time.Second - 1)
	var he *lock.HeldError
	if _, err := m.Peer().Acquire(t.Context(), "x", time.Second); !errors.As(err, &he) || !he.Expires.Equal(g.Expires) || he.Owner != g.Owner {
		t.Fatalf("a nanosecond before expiry: %v", err)
	}
	r, err := m.Renew(t.Context(), g, 2*time.Second)
	if err != nil || !r.Expires.Equal(clk.Now().Add(2*time.Second)) {
		t.Fatalf("renew: %+v, %v", r, err)
	}
	clk.Advance(2 * time.Second)
	if _, err := m.Renew(t.Context(), r, time.Second); !errors.Is(err, lock.ErrLost) {
		t.Fatalf("renew at expiry: %v", err)
	}
	if g2, err := m.Peer().Acquire(t.Context(), "x", time.Second); err != nil || g2.Token != 2 {
		t.Fatalf("acquire after expiry: %+v, %v", g2, err)
	}
}

// TestMemoryPeers checks that peers have distinct owners and that closing
// one leaves the others working.
func TestMemoryPeers(t *testing.T) {
	a := lock.NewMemory(lock.MemoryOptions{})
	b := a.Peer()
	ga, err := a.Acquire(t.Context(), "x", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Release(t.Context(), ga); err != nil {
		t.Fatal(err)
	}
	gb, err := b.Acquire(t.Context(), "x", time.Minute)
	if err != nil || gb.Owner == ga.Owner || gb.Token != ga.Token+1 {
		t.Fatalf("peer acquire: %+v after %+v, %v", gb, ga, err)
	}
	a.Close()
	if _, err := b.Renew(t.Context(), gb, time.Minute); err != nil {
		t.Fatalf("renew on a peer of a closed Leaser: %v", err)
	}
}
