// Package redislock is the lock.Leaser of a cluster: leases in Redis
// (go-redis v9, Redis 5 or newer), for the domain leaders of several sopd
// nodes. It passes the conformance suite in lock/locktest.
//
// # Keys
//
// A lease named NAME uses two keys. The braces make them one Redis
// Cluster hash slot, as the scripts need; a single server ignores them.
//
//	sop:lease:{NAME}   string: the holder's owner; PX = the lease's ttl
//	sop:token:{NAME}   string: decimal uint64, the last fencing token
//	                   granted for NAME; PX = 7 days from the last grant
//	                   or renewal (tokenTTL)
//
// An owner is "HOST/PID/R/N": the host name, the process id, 8 random hex
// digits drawn when the Client is made, and a count of the Client's
// grants. Every grant therefore has an owner no other grant, in any
// process, shares; compare-and-extend and compare-and-delete on it never
// touch another grant's lease, even one of the same Client.
//
// # Scripts
//
// Every call runs one Lua script, atomically on the server: EVALSHA, and
// EVAL when the server answers NOSCRIPT (after a restart or SCRIPT FLUSH),
// which also caches it again.
//
//   - acquire: SET lease owner NX PX ttl; if that succeeds, INCR the token
//     key (seeded first, see below) and return the new token; if not,
//     return the holder, its PTTL and the token key's value.
//   - renew (compare-and-extend): if GET lease = owner, PEXPIRE it to ttl.
//   - release (compare-and-delete): if GET lease = owner, DEL it.
//
// The grant and its token are one script, not SET NX then INCR (or the
// reverse) from the client, because the two orders done as two commands
// both break the token's order: with INCR first, a client can draw token
// 5, stall, and SET after another drew 6, was granted, and let its lease
// expire (grant 6 then grant 5); with SET first, a client can be granted,
// stall past its ttl, and INCR after the next holder did. In one script
// no other command runs between the two, so tokens follow grants: each
// grant's token is higher than every earlier grant's, and a token is
// never granted twice because INCR never returns a value twice while the
// key lives.
//
// Go-redis does not retry lease calls (MaxRetries -1): a resent acquire
// could not tell its own grant from another's, nor a resent release its
// success from a loss. A call whose reply is lost fails with
// lock.ErrUnavailable and the caller decides; an acquire that was in fact
// granted frees itself after ttl.
//
// # Restarts
//
// sop's Redis keeps leases only and runs without persistence: a restarted
// Redis is empty. The Client reads the server's run_id (INFO server; a new
// random value on every start) in the same pipeline as each script, and
// every CheckInterval (default 1 s) while it holds leases. Each lease
// remembers the run_id of the server that granted it; when a reply comes
// from a server with another run_id, every lease this Client held before
// the request was sent is lost, and its Renew and Release return
// lock.ErrLost, even if the key is there again (a Redis that did persist,
// or a replica promoted in its place, may bring back state that is stale).
// A Renew or Release whose own reply shows the grant's run_id ran on the
// server that granted it: run_ids do not repeat, so no restart came in
// between. Options.OnRestart reports each change seen, for logs.
//
// Tokens must stay increasing across a restart, when the token keys are
// gone too. When the acquire script finds no token key (a restart, or no
// grant or renewal of NAME for tokenTTL) it seeds it with the larger of
// the server's clock in microseconds (TIME) and the caller's floor: the
// highest token this Client has seen for NAME, in its grants and in the
// counters that refused acquires return. Both bound every earlier token
// from above: tokens grow by one per grant, grants of one name are at
// least one round trip apart, so a counter seeded from the clock stays
// below the clock (it would take a million grants of one name per second
// to catch up), and a restart takes far longer than a microsecond. The
// clock seed holds unless the Redis host's clock steps back across a
// restart; the floor holds for every token this Client saw, whatever the
// clocks do. Tokens are around 1.8e15, below 2^53, so Lua's numbers hold
// them exactly until about the year 2255.
//
// Even then the lease, and its token, give liveness, not safety: a stale
// leader that still believes it holds a lease is stopped by the journal,
// whose appends are fenced on the expected last seq (DESIGN: "Safety never
// depends on the lease"). Losing every lease when Redis restarts only
// costs a re-election.
//
// # Connections
//
// Options map onto go-redis's pool: PoolSize (default 10 × GOMAXPROCS),
// MinIdleConns (default 2, kept warm), DialTimeout, ReadTimeout and
// WriteTimeout, plus address, credentials, database and TLS. ParseURL
// reads them from a redis:// or rediss:// URL.
package redislock
