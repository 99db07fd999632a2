// Package lock is sop's lease contract: a named lease held by one owner at
// a time, for a ttl, renewed while its holder lives, with a fencing token.
// A domain's leader is the holder of the domain's lease.
//
// # The Leaser interface
//
// Leaser (lock.go) has Acquire, Renew, Release and Close. Each case has
// its sentinel error: ErrHeld (a *HeldError naming the holder) when
// another grant holds the name, ErrLost when a lease is no longer held by
// the grant that renews or releases it, ErrUnavailable when the store
// cannot be reached and the outcome is unknown, ErrClosed, ErrBadName and
// ErrBadTTL. Memory (memory.go) implements it in memory, for standalone
// nodes and unit tests, with an injectable clock; redislock.Client
// implements it on Redis for clusters. Package locktest is the
// conformance suite both pass.
//
// # Grants, owners and tokens
//
// Every successful Acquire is a new grant with a new Owner: owners are
// never reused, so a renewal or release is compare-and-extend or
// compare-and-delete on the owner and can never touch another grant's
// lease, not even a later grant of the same name to the same process.
//
// The Token is the grant's fencing token: per name, each grant's token is
// higher than every earlier grant's, and a token is never granted twice.
// Memory counts from 1 per name for the life of the store; redislock draws
// tokens from a Redis counter and keeps them increasing across a restart
// of Redis, which forgets its counters (see redislock's doc for how, and
// for the one clock assumption it makes). A resource that records the
// highest token it has seen can refuse a holder with a lower one.
//
// # Expiry is an estimate
//
// Lease.Expires is the holder's estimate, measured from before the request
// was sent, so never later than the store's own expiry on a clock that
// runs at the same rate. A process that stalls (GC, SIGSTOP, a slow disk)
// can still wake up believing it holds a lease that expired, and was
// granted to another, while it slept.
//
// That is why safety in sop does not rest on leases. A domain's leader
// appends to the journal fenced on the journal's expected last seq
// (Nats-Expected-Last-Sequence): a deposed leader, whatever it believes
// about its lease, appends behind a seq that moved on and is refused. The
// lease only decides who should lead (liveness): a lost lease, for
// instance when Redis restarts and forgets every lease, costs a
// re-election, never a wrong commit.
//
// # Names and incarnations
//
// Name(cluster, domain, incarnation) is a domain's lease name. A domain's
// incarnation id is drawn when the domain is created and never reused, so
// a domain deleted and created again under the same name has a new lease
// name: its nodes never wait for, or fight over, a "ghost" lease that a
// node of the old domain still holds or that was left behind until it
// expires, and its tokens count from the start on their own.
//
// # Concurrency
//
// Leasers are safe for concurrent use. Leases are values: a Lease
// returned by Renew replaces the one passed in, though both name the same
// grant.
package lock
