package redislock

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sopd/sop/lock"
	"github.com/sopd/sop/lock/locktest"
)

func newClient(t *testing.T, addr string, tune func(*Options)) *Client {
	t.Helper()
	opts := Options{Addr: addr}
	if tune != nil {
		tune(&opts)
	}
	c, err := New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// raw returns a plain go-redis client on the server, to look at and
// change keys behind the Client's back.
func raw(t *testing.T, s *server) *redis.Client {
	t.Helper()
	r := redis.NewClient(&redis.Options{Addr: s.addr})
	t.Cleanup(func() { r.Close() })
	return r
}

func TestConformance(t *testing.T) {
	srv := startServer(t)
	locktest.Run(t, locktest.Config{
		New: func(t *testing.T, n int) []lock.Leaser {
			ls := make([]lock.Leaser, n)
			for i := range ls {
				ls[i] = newClient(t, srv.addr, nil)
			}
			return ls
		},
		// Redis expires keys on its own clock, the same host's as ours;
		// the margin covers its millisecond rounding.
		Advance: func(_ *testing.T, d time.Duration) { time.Sleep(d + 5*time.Millisecond) },
		Short:   500 * time.Millisecond,
	})
}

func acquire(t *testing.T, c *Client, name string) lock.Lease {
	t.Helper()
	l, err := c.Acquire(t.Context(), name, time.Minute)
	if err != nil {
		t.Fatalf("acquire %s: %v", name, err)
	}
	return l
}

// TestRestartLosesLeases kills Redis with SIGKILL and starts an empty one
// on the same port: every lease granted before is lost, even one whose key
// reappears; new grants carry tokens above every earlier one, both for a
// Client that saw the old tokens and for one that never did.
func TestRestartLosesLeases(t *testing.T) {
	srv := startServer(t)
	restarts := make(chan [2]string, 8)
	a := newClient(t, srv.addr, func(o *Options) {
		o.CheckInterval = -1 // only the calls' own checks
		o.OnRestart = func(old, new string) { restarts <- [2]string{old, new} }
	})
	x, y, z := acquire(t, a, "x"), acquire(t, a, "y"), acquire(t, a, "z")
	oldRunID := a.runID

	srv.kill()
	if _, err := a.Renew(t.Context(), x, time.Minute); !errors.Is(err, lock.ErrUnavailable) {
		t.Fatalf("renew while Redis is down: %v", err)
	}
	srv.restart()
	// z's key comes back as if a persisted or replicated copy had it.
	if err := raw(t, srv).Set(t.Context(), leaseKey("z"), z.Owner, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}

	if _, err := a.Renew(t.Context(), z, time.Minute); !errors.Is(err, lock.ErrLost) {
		t.Fatalf("renew of a lease from before the restart, its key restored: %v", err)
	}
	if _, err := a.Renew(t.Context(), x, time.Minute); !errors.Is(err, lock.ErrLost) {
		t.Fatalf("renew of a lease from before the restart: %v", err)
	}
	if err := a.Release(t.Context(), y); !errors.Is(err, lock.ErrLost) {
		t.Fatalf("release of a lease from before the restart: %v", err)
	}
	select {
	case r := <-restarts:
		if r[0] != oldRunID || r[1] == oldRunID || r[1] != a.runID {
			t.Fatalf("OnRestart(%q, %q); run_id was %q, is %q", r[0], r[1], oldRunID, a.runID)
		}
	default:
		t.Fatal("OnRestart was not called")
	}

	b := newClient(t, srv.addr, nil) // never saw a token of x
	if nx := acquire(t, b, "x"); nx.Token <= x.Token {
		t.Fatalf("token of x after the restart %d, before %d", nx.Token, x.Token)
	}
	if ny := acquire(t, a, "y"); ny.Token <= y.Token {
		t.Fatalf("token of y after the restart %d, before %d", ny.Token, y.Token)
	}
}

// TestRestartSeenBetweenRenewals: the periodic run_id check notices a
// restart while nothing is renewed, and the next Renew is lost although
// its key is back.
func TestRestartSeenBetweenRenewals(t *testing.T) {
	srv := startServer(t)
	restarted := make(chan struct{}, 8)
	a := newClient(t, srv.addr, func(o *Options) {
		o.CheckInterval = 20 * time.Millisecond
		o.OnRestart = func(string, string) { restarted <- struct{}{} }
	})
	x := acquire(t, a, "x")
	srv.restart()
	select {
	case <-restarted:
	case <-time.After(10 * time.Second):
		t.Fatal("the periodic check did not notice the restart within 10s")
	}
	if err := raw(t, srv).Set(t.Context(), leaseKey("x"), x.Owner, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Renew(t.Context(), x, time.Minute); !errors.Is(err, lock.ErrLost) {
		t.Fatalf("renew after the restart was noticed: %v", err)
	}
	// New grants are not affected.
	y := acquire(t, a, "y")
	if _, err := a.Renew(t.Context(), y, time.Minute); err != nil {
		t.Fatalf("renew of a lease granted after the restart: %v", err)
	}
}

// TestTokenFloor: a token key that comes back lower than tokens already
// granted (a stale copy) does not make tokens go back: the Client's floor
// lifts it, for every later client too.
func TestTokenFloor(t *testing.T) {
	srv := startServer(t)
	a := newClient(t, srv.addr, nil)
	first := acquire(t, a, "x")
	if err := a.Release(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	r := raw(t, srv)
	if err := r.Set(t.Context(), tokenKey("x"), "5", 0).Err(); err != nil {
		t.Fatal(err)
	}
	second := acquire(t, a, "x")
	if second.Token != first.Token+1 {
		t.Fatalf("token after a stale counter: %d, want %d", second.Token, first.Token+1)
	}
	if err := a.Release(t.Context(), second); err != nil {
		t.Fatal(err)
	}
	b := newClient(t, srv.addr, nil)
	if third := acquire(t, b, "x"); third.Token != second.Token+1 {
		t.Fatalf("token for another client: %d, want %d", third.Token, second.Token+1)
	}

	// A refused acquire teaches the floor too.
	c := newClient(t, srv.addr, nil)
	if _, err := c.Acquire(t.Context(), "x", time.Minute); !errors.Is(err, lock.ErrHeld) {
		t.Fatal(err)
	}
	if got := c.floorOf("x"); got != strconv.FormatUint(second.Token+1, 10) {
		t.Fatalf("floor after a refused acquire: %s, want %d", got, second.Token+1)
	}

	// A missing token key is seeded from the server's clock: above every
	// earlier token, for a client that never saw one.
	if err := r.Del(t.Context(), tokenKey("y")).Err(); err != nil {
		t.Fatal(err)
	}
	y := acquire(t, newClient(t, srv.addr, nil), "y")
	if now := uint64(time.Now().UnixMicro()); y.Token > now || y.Token < now-uint64(time.Minute/time.Microsecond) {
		t.Fatalf("seeded token %d, clock %d µs", y.Token, now)
	}
}

// TestScriptCacheFlushed: after SCRIPT FLUSH (or a restart) EVALSHA
// answers NOSCRIPT; the call falls back to EVAL, which caches the script
// again, and later calls use EVALSHA.
func TestScriptCacheFlushed(t *testing.T) {
	srv := startServer(t)
	r := raw(t, srv)
	a := newClient(t, srv.addr, nil)
	x := acquire(t, a, "x")
	if err := r.ScriptFlush(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Renew(t.Context(), x, time.Minute); err != nil {
		t.Fatalf("renew after SCRIPT FLUSH: %v", err)
	}
	if err := r.ConfigResetStat(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Renew(t.Context(), x, time.Minute); err != nil {
		t.Fatal(err)
	}
	stats := r.Info(t.Context(), "commandstats").Val()
	if !strings.Contains(stats, "cmdstat_evalsha:calls=1,") || strings.Contains(stats, "cmdstat_eval:") {
		t.Fatalf("a renew with the script cached did not run one EVALSHA alone:\n%s", stats)
	}
}

// TestUnreachable: New fails with ErrUnavailable when nothing listens.
func TestUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	if _, err := New(ctx, Options{Addr: addr, DialTimeout: time.Second}); !errors.Is(err, lock.ErrUnavailable) {
		t.Fatalf("New on %s: %v", addr, err)
	}
}

// TestOwners: owners name the host and process, and differ between
// grants and between Clients.
func TestOwners(t *testing.T) {
	srv := startServer(t)
	a, b := newClient(t, srv.addr, nil), newClient(t, srv.addr, nil)
	seen := map[string]bool{}
	for i, c := range []*Client{a, a, b} {
		l := acquire(t, c, "owner-"+strconv.Itoa(i))
		host, _ := os.Hostname()
		if seen[l.Owner] || !strings.HasPrefix(l.Owner, host+"/"+strconv.Itoa(os.Getpid())+"/") {
			t.Fatalf("owner %q (seen before: %v)", l.Owner, seen[l.Owner])
		}
		seen[l.Owner] = true
	}
}
