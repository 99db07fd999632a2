package lock

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Memory is an in-memory lease store and a Leaser on it: the locks of a
// standalone node, whose one process is the whole cluster, and of unit
// tests. Peer returns more Leasers on the same store, as the nodes of a
// cluster are clients of one Redis.
//
// Tokens start at 1 and count per name for the life of the store: it
// keeps one counter per name ever acquired (a few dozen bytes each).
type Memory struct {
	s      *memStore
	prefix string // of this Leaser's owners: "mem<peer>."
	grants atomic.Uint64
	closed atomic.Bool
}

// MemoryOptions configure a Memory. The zero value is usable.
type MemoryOptions struct {
	// Now is the store's clock, which decides expiry and Expires; default
	// time.Now. Tests inject a fake one to expire leases without waiting.
	Now func() time.Time
}

type memStore struct {
	now   func() time.Time
	peers atomic.Uint64

	mu     sync.Mutex
	leases map[string]memLease // by name; an expired entry counts as absent
	tokens map[string]uint64   // the last token granted per name; never forgotten
}

type memLease struct {
	owner   string
	token   uint64
	expires time.Time
	by      *Memory // the Leaser that granted it
}

var _ Leaser = (*Memory)(nil)

// NewMemory returns a Leaser on a new, empty in-memory store.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &memStore{now: opts.Now, leases: map[string]memLease{}, tokens: map[string]uint64{}}
	return s.newPeer()
}

// Peer returns another Leaser on m's store, with owners of its own: what
// another node's client would be. Closing one does not close the other.
func (m *Memory) Peer() *Memory { return m.s.newPeer() }

func (s *memStore) newPeer() *Memory {
	return &Memory{s: s, prefix: fmt.Sprintf("mem%d.", s.peers.Add(1))}
}

func (m *Memory) check(ctx context.Context, name string, ttl time.Duration) error {
	if m.closed.Load() {
		return ErrClosed
	}
	return CheckArgs(ctx, name, ttl)
}

// Acquire implements Leaser.
func (m *Memory) Acquire(ctx context.Context, name string, ttl time.Duration) (Lease, error) {
	if err := m.check(ctx, name, ttl); err != nil {
		return Lease{}, err
	}
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if cur, ok := s.leases[name]; ok && now.Before(cur.expires) {
		return Lease{}, &HeldError{Name: name, Owner: cur.owner, Expires: cur.expires}
	}
	s.tokens[name]++
	l := Lease{
		Name:    name,
		Owner:   fmt.Sprintf("%s%d", m.prefix, m.grants.Add(1)),
		Token:   s.tokens[name],
		Expires: now.Add(ttl),
	}
	s.leases[name] = memLease{owner: l.Owner, token: l.Token, expires: l.Expires, by: m}
	return l, nil
}

// Renew implements Leaser.
func (m *Memory) Renew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error) {
	if err := m.check(ctx, l.Name, ttl); err != nil {
		return Lease{}, err
	}
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	cur, ok := m.heldLocked(l, now)
	if !ok {
		return Lease{}, fmt.Errorf("renew %q: %w", l.Name, ErrLost)
	}
	cur.expires = now.Add(ttl)
	s.leases[l.Name] = cur
	l.Token, l.Expires = cur.token, cur.expires
	return l, nil
}

// Release implements Leaser.
func (m *Memory) Release(ctx context.Context, l Lease) error {
	if err := m.check(ctx, l.Name, time.Millisecond); err != nil {
		return err
	}
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := m.heldLocked(l, s.now()); !ok {
		return fmt.Errorf("release %q: %w", l.Name, ErrLost)
	}
	delete(s.leases, l.Name)
	return nil
}

// heldLocked returns the store's entry for l when l is the live grant
// made by m.
func (m *Memory) heldLocked(l Lease, now time.Time) (memLease, bool) {
	cur, ok := m.s.leases[l.Name]
	if !ok || cur.owner != l.Owner || cur.by != m {
		return memLease{}, false
	}
	if !now.Before(cur.expires) {
		delete(m.s.leases, l.Name)
		return memLease{}, false
	}
	return cur, true
}

// Close implements Leaser. m's leases stay in the store until they expire.
func (m *Memory) Close() error {
	m.closed.Store(true)
	return nil
}
