package redislock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sopd/sop/lock"
)

// Client is a lock.Leaser on one Redis server. It is safe for concurrent
// use.
type Client struct {
	rdb    *redis.Client
	opts   Options
	owners string // prefix of this Client's owners: "HOST/PID/R/"
	grants atomic.Uint64

	mu     sync.Mutex
	closed bool
	runID  string            // the run_id of the latest reply
	held   map[string]grant  // this Client's live grants, by owner
	gen    uint64            // counts additions to held
	floor  map[string]uint64 // the highest token seen, by lease name

	stop context.CancelFunc // ends watch
	done chan struct{}      // closed when watch returns
}

// grant is a lease this Client was granted and has not seen lost.
type grant struct {
	name  string
	runID string // of the server that granted it
	gen   uint64 // Client.gen when it was recorded
}

var _ lock.Leaser = (*Client)(nil)

// New connects to the Redis server opts names and reads its run_id. A
// server that cannot be reached is lock.ErrUnavailable.
func New(ctx context.Context, opts Options) (*Client, error) {
	opts = opts.withDefaults()
	rdb := redis.NewClient(opts.redisOptions())
	runID, err := serverRunID(ctx, rdb)
	if err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redislock: connect to %s: %w", opts.Addr, unavailable(err))
	}
	c := &Client{
		rdb:    rdb,
		opts:   opts,
		owners: ownerPrefix(),
		runID:  runID,
		held:   map[string]grant{},
		floor:  map[string]uint64{},
		done:   make(chan struct{}),
	}
	watchCtx, stop := context.WithCancel(context.Background())
	c.stop = stop
	if opts.CheckInterval > 0 {
		go c.watch(watchCtx, opts.CheckInterval)
	} else {
		close(c.done)
	}
	return c, nil
}

// ownerPrefix returns "HOST/PID/R/" with R 8 random hex digits, so that
// two Clients of one process, or processes that reuse a pid, differ.
func ownerPrefix() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	var r [4]byte
	rand.Read(r[:])
	return fmt.Sprintf("%s/%d/%s/", host, os.Getpid(), hex.EncodeToString(r[:]))
}

// Acquire implements lock.Leaser.
func (c *Client) Acquire(ctx context.Context, name string, ttl time.Duration) (lock.Lease, error) {
	if err := c.check(ctx, name, ttl); err != nil {
		return lock.Lease{}, err
	}
	owner := c.owners + strconv.FormatUint(c.grants.Add(1), 10)
	sent := time.Now()
	res, runID, err := c.run(ctx, acquireScript, name, owner, millis(ttl), c.floorOf(name), millis(tokenTTL))
	if err != nil {
		return lock.Lease{}, fmt.Errorf("acquire %q: %w", name, err)
	}
	r, err := parseAcquire(res)
	if err != nil {
		return lock.Lease{}, fmt.Errorf("acquire %q: %w: %w", name, lock.ErrUnavailable, err)
	}
	c.raiseFloor(name, r.token)
	if !r.granted {
		return lock.Lease{}, &lock.HeldError{Name: name, Owner: r.holder, Expires: time.Now().Add(r.holderTTL)}
	}
	c.record(owner, name, runID)
	return lock.Lease{Name: name, Owner: owner, Token: r.token, Expires: sent.Add(ttl)}, nil
}

// Renew implements lock.Leaser.
func (c *Client) Renew(ctx context.Context, l lock.Lease, ttl time.Duration) (lock.Lease, error) {
	if err := c.check(ctx, l.Name, ttl); err != nil {
		return lock.Lease{}, err
	}
	if !c.holds(l) {
		return lock.Lease{}, fmt.Errorf("renew %q: %w", l.Name, lock.ErrLost)
	}
	sent := time.Now()
	res, _, err := c.run(ctx, renewScript, l.Name, l.Owner, millis(ttl), millis(tokenTTL))
	if err != nil {
		return lock.Lease{}, fmt.Errorf("renew %q: %w", l.Name, err)
	}
	// holds again: the reply's run_id may have shown a restart.
	if n, _ := res.(int64); n != 1 || !c.holds(l) {
		c.forget(l.Owner)
		return lock.Lease{}, fmt.Errorf("renew %q: %w", l.Name, lock.ErrLost)
	}
	l.Expires = sent.Add(ttl)
	return l, nil
}

// Release implements lock.Leaser. A lease this Client does not hold (or
// no longer, after a restart) is lock.ErrLost without a call to Redis.
func (c *Client) Release(ctx context.Context, l lock.Lease) error {
	if err := c.check(ctx, l.Name, time.Millisecond); err != nil {
		return err
	}
	if !c.holds(l) {
		return fmt.Errorf("release %q: %w", l.Name, lock.ErrLost)
	}
	res, _, err := c.run(ctx, releaseScript, l.Name, l.Owner)
	if err != nil {
		return fmt.Errorf("release %q: %w", l.Name, err)
	}
	ok := c.holds(l)
	c.forget(l.Owner)
	if n, _ := res.(int64); n != 1 || !ok {
		return fmt.Errorf("release %q: %w", l.Name, lock.ErrLost)
	}
	return nil
}

// Close implements lock.Leaser: it stops the run_id checks and closes the
// connections. Leases stay in Redis until they expire.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.stop()
	<-c.done
	return c.rdb.Close()
}

func (c *Client) check(ctx context.Context, name string, ttl time.Duration) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return lock.ErrClosed
	}
	return lock.CheckArgs(ctx, name, ttl)
}

// run runs script on name's keys, followed in the same pipeline (one
// connection, back to back) by INFO server, and returns the script's
// result and the run_id of the server that ran it. It then drops the
// grants made before the request by a server of another run_id.
func (c *Client) run(ctx context.Context, script *redis.Script, name string, args ...any) (any, string, error) {
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	keys := []string{leaseKey(name), tokenKey(name)}
	res, runID, err := c.pipeline(ctx, script.EvalSha, keys, args)
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		res, runID, err = c.pipeline(ctx, script.Eval, keys, args)
	}
	if err != nil {
		return nil, "", unavailable(err)
	}
	c.observe(runID, gen)
	return res, runID, nil
}

type evalFunc func(ctx context.Context, c redis.Scripter, keys []string, args ...any) *redis.Cmd

func (c *Client) pipeline(ctx context.Context, eval evalFunc, keys []string, args []any) (any, string, error) {
	var ev *redis.Cmd
	var info *redis.StringCmd
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		ev = eval(ctx, p, keys, args...)
		info = p.Info(ctx, "server")
		return nil
	})
	if ev != nil && ev.Err() != nil {
		return nil, "", ev.Err() // the script's own error first: NOSCRIPT is told apart by it
	}
	if err != nil {
		return nil, "", err
	}
	runID, err := parseRunID(info.Val())
	return ev.Val(), runID, err
}

// observe takes note of a reply from the server with runID to a request
// sent when c.gen was gen: the grants recorded by then came before the
// request, so any of them made by a server of another run_id was made
// before a restart, which lost it.
func (c *Client) observe(runID string, gen uint64) {
	c.mu.Lock()
	old := c.runID
	c.runID = runID
	for owner, g := range c.held {
		if g.gen <= gen && g.runID != runID {
			delete(c.held, owner)
		}
	}
	c.mu.Unlock()
	if old != runID && c.opts.OnRestart != nil {
		c.opts.OnRestart(old, runID)
	}
}

// watch reads the server's run_id every interval while c holds leases,
// until ctx ends.
func (c *Client) watch(ctx context.Context, interval time.Duration) {
	defer close(c.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		gen, n := c.gen, len(c.held)
		c.mu.Unlock()
		if n == 0 {
			continue
		}
		checkCtx, cancel := context.WithTimeout(ctx, c.opts.WriteTimeout+c.opts.ReadTimeout)
		runID, err := serverRunID(checkCtx, c.rdb)
		cancel()
		if err == nil {
			c.observe(runID, gen)
		}
	}
}

func (c *Client) record(owner, name, runID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.held[owner] = grant{name: name, runID: runID, gen: c.gen}
}

// holds reports whether l is a live grant of c's.
func (c *Client) holds(l lock.Lease) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.held[l.Owner]
	return ok && g.name == l.Name
}

func (c *Client) forget(owner string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.held, owner)
}

func (c *Client) floorOf(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strconv.FormatUint(c.floor[name], 10)
}

func (c *Client) raiseFloor(name string, token uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if token > c.floor[name] {
		c.floor[name] = token
	}
}

// acquireResult is acquireScript's reply: token is the grant's when
// granted, else the name's last token.
type acquireResult struct {
	granted   bool
	token     uint64
	holder    string
	holderTTL time.Duration
}

func parseAcquire(res any) (acquireResult, error) {
	a, ok := res.([]any)
	if !ok || len(a) < 2 {
		return acquireResult{}, fmt.Errorf("acquire script replied %v", res)
	}
	flag, _ := a[0].(int64)
	tok, _ := a[1].(string)
	token, err := strconv.ParseUint(tok, 10, 64)
	if err != nil {
		return acquireResult{}, fmt.Errorf("acquire script replied token %v", a[1])
	}
	r := acquireResult{granted: flag == 1, token: token}
	if r.granted {
		return r, nil
	}
	if len(a) != 4 {
		return acquireResult{}, fmt.Errorf("acquire script replied %v", res)
	}
	r.holder, _ = a[2].(string)
	pttl, _ := a[3].(int64)
	r.holderTTL = time.Duration(max(pttl, 0)) * time.Millisecond
	return r, nil
}

// serverRunID returns the run_id of the server c reaches.
func serverRunID(ctx context.Context, c *redis.Client) (string, error) {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	return parseRunID(info)
}

func parseRunID(info string) (string, error) {
	for line := range strings.Lines(info) {
		if id, ok := strings.CutPrefix(line, "run_id:"); ok {
			if id = strings.TrimSpace(id); id != "" {
				return id, nil
			}
		}
	}
	return "", errors.New("INFO server has no run_id")
}

// millis returns d in whole milliseconds, rounded up, so that Redis never
// expires a lease before the holder's estimate.
func millis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// unavailable marks err, an error from Redis or the connection, with
// lock.ErrUnavailable; a ctx error stays visible to errors.Is.
func unavailable(err error) error {
	return fmt.Errorf("%w: %w", lock.ErrUnavailable, err)
}
