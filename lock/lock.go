package lock

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Lease is one grant of a named lease to one owner.
type Lease struct {
	// Name is the lease's name (see Name for domain leases).
	Name string
	// Owner identifies this grant: no two grants in one store share an
	// owner (redislock's owners are unique across processes and clients).
	Owner string
	// Token is the fencing token: strictly increasing per name across
	// grants, never reused (see the package doc for what holds across a
	// restart of the store). Renew keeps it.
	Token uint64
	// Expires is the holder's local estimate of when the lease ends: the
	// time the request was sent plus its ttl, so no later than the store's
	// own expiry. A holder that has not renewed by then must act as if it
	// had lost the lease.
	Expires time.Time
}

// Leaser grants, renews and releases leases. Implementations are safe for
// concurrent use: Memory in this package, redislock.Client for Redis. Both
// pass the conformance suite in lock/locktest.
//
// A Lease is renewed and released through the Leaser that granted it;
// through any other Leaser it is ErrLost. Leases are not reentrant: an
// Acquire of a name this Leaser already holds is ErrHeld like any other.
//
// A ctx already done makes every method return ctx.Err() and change
// nothing. When ctx ends, or the store fails, during a request, the error
// wraps ErrUnavailable (and the ctx error) and the outcome is unknown: an
// Acquire may have been granted (it frees itself after ttl) and a Release
// may have released.
type Leaser interface {
	// Acquire grants the lease name to a new owner for ttl, with a token
	// higher than any granted for name before. A lease held by another
	// grant is a *HeldError (errors.Is(err, ErrHeld)). An empty name is
	// ErrBadName, a ttl under a millisecond ErrBadTTL.
	Acquire(ctx context.Context, name string, ttl time.Duration) (Lease, error)
	// Renew makes l expire ttl from now (shorter or longer than before) and
	// returns it with the new Expires, the same Owner and Token. ErrLost
	// when l is no longer held by this grant: it expired (taken by another
	// owner or not), was released, or the store restarted and forgot it.
	Renew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
	// Release ends l, so another owner may acquire name at once. ErrLost
	// when l is no longer held by this grant, as for Renew; it never
	// releases another owner's lease.
	Release(ctx context.Context, l Lease) error
	// Close frees the Leaser's resources. It does not release its leases:
	// they expire. Later calls return ErrClosed; Close again returns nil.
	Close() error
}

// Errors of a Leaser, by phase. Callers test them with errors.Is.
var (
	// Arguments, checked before any I/O.

	// ErrBadName: an empty lease name.
	ErrBadName = errors.New("lock: bad lease name")
	// ErrBadTTL: a ttl under a millisecond, the store's resolution.
	ErrBadTTL = errors.New("lock: ttl under a millisecond")

	// Acquire.

	// ErrHeld: another grant holds the lease. See HeldError.
	ErrHeld = errors.New("lock: lease held by another owner")

	// Renew and Release.

	// ErrLost: the lease is no longer held by this grant. The holder must
	// stop acting as the lease's holder; it may Acquire again.
	ErrLost = errors.New("lock: lease lost")

	// Any call.

	// ErrUnavailable: the store could not be reached or failed; the
	// outcome of the call is unknown.
	ErrUnavailable = errors.New("lock: store unavailable")
	// ErrClosed: the Leaser was closed.
	ErrClosed = errors.New("lock: leaser closed")
)

// HeldError names the grant that holds a lease Acquire asked for.
type HeldError struct {
	Name    string
	Owner   string    // the holder's owner
	Expires time.Time // local estimate of when the holder's lease ends, unless renewed
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("lock: lease %q held by %s until %s", e.Name, e.Owner, e.Expires.Format(time.RFC3339Nano))
}

// Is makes errors.Is(err, ErrHeld) hold.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// Name returns the name of the lease of one incarnation of a domain in a
// cluster (its leader lease): "cluster/domain/incarnation", each part
// escaped as a URL path segment so that distinct triples never give one
// name.
//
// The incarnation is the id a domain gets when it is created
// (checkpoint.Domain.Incarnation). Deleting a domain and creating one of
// the same name gives a new incarnation and so a new lease name: the new
// domain never waits for, or is confused with, a lease that a node of the
// old one still held ("ghost" locks), and its tokens count on their own.
func Name(cluster, domain, incarnation string) string {
	return url.PathEscape(cluster) + "/" + url.PathEscape(domain) + "/" + url.PathEscape(incarnation)
}

// CheckArgs returns ErrBadName or ErrBadTTL (wrapped) for arguments no
// Leaser accepts, and ctx.Err() when ctx is done. Implementations call it
// first in Acquire; Renew passes l.Name.
func CheckArgs(ctx context.Context, name string, ttl time.Duration) error {
	if name == "" {
		return ErrBadName
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("%w: %v", ErrBadTTL, ttl)
	}
	return ctx.Err()
}
