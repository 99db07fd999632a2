package main

// Suite engine: sop's commit path (interactive transaction, group commit, JetStream
// journal with sync always) against the journal it sits on and against etcd.
//
// Workload: each commit is one interactive transaction with one Put of a random
// 16-byte key and a random 256-byte value into store "bench" of domain "default":
//
//	db.Update(ctx, "default", func(tx *sop.Tx) error { return tx.Put("bench", key, value) })
//
// Committer i draws its keys and values from math/rand/v2's PCG seeded (seed, i), so
// every engine gets the same keys and values in the same order.
//
// Cases, each engine in a fresh directory, opened before and closed after its run:
//
//	commit-vs-jetstream  -clients (64) concurrent committers (commits/s) against the
//	        journal's ceiling: one goroutine appending groups of -clients messages back
//	        to back with journal.Stream.Append (one JetStream atomic batch each, the
//	        path sop's group commit takes at best) on an embedded nats-server with sync
//	        always, each message the encoded entry of one such commit (messages/s).
//	commit-vs-etcd       the same sop workload against etcd's embed package (single
//	        member, default durability: the WAL is fsynced before a Put is answered)
//	        with -clients goroutines doing Put through one clientv3 client over
//	        loopback TCP (commits/s).
//	latency-p50-vs-sync-publish  one committer, one commit at a time: sop's median
//	        commit latency against the median of a one-message Stream.Append (a plain
//	        JetStream publish fenced with Nats-Expected-Last-Sequence, awaited) on an
//	        embedded server with sync always; 99th percentiles too (microseconds).
//
// Timing: each engine runs -warmup (1s) unmeasured, then -duration (5s) measured:
// throughput is what completed in the measured window, latency the samples taken in
// it. -cpuprofile profiles sop's measured window.
//
// Checks: after each run the engine is asked how many items it holds (sop: the
// store's count; etcd: a count-only range; JetStream: the stream's last seq), which
// must equal the commits acknowledged.
//
// The peer's entries are built like sop's (TxID of 32 hex digits, Domain, ReadVersion,
// Node, Time, one put op) so both append messages of the same size.

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sopd/sop/journal"
)

const (
	engineKeySize   = 16
	engineValueSize = 256
	engineDomain    = "default"
	engineStore     = "bench"
)

// Case names.
const (
	caseCommitJetStream = "commit-vs-jetstream"
	caseCommitEtcd      = "commit-vs-etcd"
	caseLatency         = "latency-p50-vs-sync-publish"
)

// entryGen makes one committer's keys, values and transaction ids.
type entryGen struct {
	rng *rand.Rand
}

func newEntryGen(worker int) *entryGen {
	return &entryGen{rng: rand.New(rand.NewPCG(seed, uint64(worker)))}
}

// next returns a fresh random key and value; the engine may keep both.
func (g *entryGen) next() (key, value []byte) {
	b := make([]byte, engineKeySize+engineValueSize)
	for i := 0; i < len(b); i += 8 {
		v := g.rng.Uint64()
		for j := i; j < min(i+8, len(b)); j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
	return b[:engineKeySize:engineKeySize], b[engineKeySize:]
}

// txID is a transaction id shaped like sop's: 128 random bits in hex.
func (g *entryGen) txID() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	return hex.EncodeToString(b[:])
}

// peerNode stands for the node id sop puts in each entry ("node-" and 12 hex digits).
const peerNode = "node-0123456789ab"

// peerEntry encodes the journal entry sop appends for one commit putting key=value,
// with the fields sop sets, so the peer's messages are as large as sop's.
func peerEntry(g *entryGen, readVersion uint64) (journal.Msg, error) {
	key, value := g.next()
	e := journal.Entry{
		TxID:        g.txID(),
		Domain:      engineDomain,
		ReadVersion: readVersion,
		Node:        peerNode,
		Time:        time.Now().UnixNano(),
		Ops:         []journal.Op{{Kind: journal.OpPut, Store: engineStore, Key: key, Value: value}},
	}
	data, err := e.MarshalBinary()
	return journal.Msg{ID: e.TxID, Data: data}, err
}

func runEngine(e *env) ([]result, error) {
	c := e.cfg
	e.note("workload: one interactive transaction per commit, one Put of a random %d-byte key and a random %d-byte value", engineKeySize, engineValueSize)
	e.note("timing: %v warm-up, then %v measured, per engine per case; each engine in a fresh directory", c.warmup, c.duration)
	e.note("durability: sop JournalSync always (embedded nats-server, fsync before ack); jetstream: the same embedded server, sync always; etcd: embed defaults (WAL fsync before ack)")
	if msg, err := peerEntry(newEntryGen(0), 1); err == nil {
		e.note("journal entry: %d bytes, one message per commit", len(msg.Data))
	}

	var out []result

	// (a) commit throughput against the journal's ceiling.
	var sopRate, peerRate float64
	var err error
	if e.runSop() {
		if sopRate, err = sopThroughput(e, caseCommitJetStream); err != nil {
			return nil, err
		}
	}
	if e.runPeer() {
		if peerRate, err = jetStreamThroughput(e, caseCommitJetStream); err != nil {
			return nil, err
		}
	}
	r := newResult(e, caseCommitJetStream, "commits/s", sopRate, peerRate)
	r.Peer, r.Unit = "jetstream", "commits/s"
	out = append(out, r)
	e.note("commit-vs-jetstream: sop %d committers; jetstream: one appender, atomic batches of %d messages back to back (msgs/s); target sop/jetstream >= 0.6", c.clients, c.clients)

	// (b) commit throughput against etcd.
	sopRate, peerRate = 0, 0
	if e.runSop() {
		if sopRate, err = sopThroughput(e, caseCommitEtcd); err != nil {
			return nil, err
		}
	}
	if e.runPeer() {
		if peerRate, err = etcdThroughput(e, caseCommitEtcd); err != nil {
			return nil, err
		}
	}
	r = newResult(e, caseCommitEtcd, "commits/s", sopRate, peerRate)
	r.Peer, r.Unit = "etcd", "commits/s"
	out = append(out, r)
	e.note("commit-vs-etcd: sop and etcd %d committers each; etcd %s, single member, %d goroutines sharing one clientv3 client over loopback TCP; target sop/etcd >= 3.0", c.clients, etcdVersion, c.clients)

	// (c) single-committer latency against one synchronous fenced publish.
	var sopLat, peerLat latency
	if e.runSop() {
		if sopLat, err = sopLatency(e, caseLatency); err != nil {
			return nil, err
		}
	}
	if e.runPeer() {
		if peerLat, err = jetStreamLatency(e, caseLatency); err != nil {
			return nil, err
		}
	}
	r = newResult(e, caseLatency, "p50 µs", sopLat.p50us(), peerLat.p50us())
	r.Peer, r.Unit = "jetstream", "us"
	r.SopP99, r.PeerP99 = sopLat.p99us(), peerLat.p99us()
	out = append(out, r)
	e.note("latency-p50-vs-sync-publish: one committer, sequential; jetstream: one-message Stream.Append (plain publish, Nats-Expected-Last-Sequence) awaited; values in microseconds, lower is better; target sop/jetstream <= 1.5")
	return out, nil
}

// caseDir makes a fresh directory for one engine in one case and returns it with a
// function that removes it.
func caseDir(e *env, name, side string) (string, func(), error) {
	dir := filepath.Join(e.dir, e.suite.name, name, side)
	if err := os.RemoveAll(dir); err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// throughput runs workers goroutines, worker i calling op with its own entryGen until
// told to stop, each call completing perCall operations (see throughputOf). It lets them run for the
// warm-up, then counts the operations completed in the next -duration and returns
// them per second. The first error stops the run. sop's side runs under the CPU
// profiler (-cpuprofile) during the measured window.
func throughput(e *env, side, name string, workers, perCall int, op func(g *entryGen) error) (float64, error) {
	return throughputOf(e, side, name, workers, perCall, func(i int) func() error {
		g := newEntryGen(i)
		return func() error { return op(g) }
	})
}

// throughputOf runs workers goroutines, worker i calling the op newOp(i) returns until
// told to stop, each call completing perCall operations. It lets them run for the
// warm-up, then counts the operations completed in the next -duration and returns
// them per second.
func throughputOf(e *env, side, name string, workers, perCall int, newOp func(worker int) func() error) (float64, error) {
	var (
		done    atomic.Int64
		stopped atomic.Bool
		wg      sync.WaitGroup
		errc    = make(chan error, workers)
	)
	for i := range workers {
		wg.Go(func() {
			op := newOp(i)
			for !stopped.Load() {
				if err := op(); err != nil {
					errc <- err
					return
				}
				done.Add(int64(perCall))
			}
		})
	}
	finish := func(err error) (float64, error) {
		stopped.Store(true)
		wg.Wait()
		if err != nil {
			return 0, fmt.Errorf("%s %s: %w", side, name, err)
		}
		return 0, nil
	}
	if err := waitOrFail(e.cfg.warmup, errc); err != nil {
		return finish(err)
	}
	stop, err := e.maybeProfile(side, name)
	if err != nil {
		return finish(err)
	}
	written := bytesWritten()
	n0, t0 := done.Load(), time.Now()
	err = waitOrFail(e.cfg.duration, errc)
	n1, elapsed := done.Load(), time.Since(t0)
	written = bytesWritten() - written
	err = errors.Join(err, stop())
	if _, err := finish(err); err != nil {
		return 0, err
	}
	ops := n1 - n0
	if ops == 0 {
		return 0, fmt.Errorf("%s %s: nothing completed in %v", side, name, elapsed)
	}
	rate := float64(ops) / elapsed.Seconds()
	e.logf("%s %s %s: %d ops in %v by %d workers = %.0f ops/s%s", e.suite.name, name, side, ops, elapsed.Round(time.Millisecond), workers, rate, wroteNote(written, ops))
	return rate, nil
}

// latency is a run's sorted latency samples.
type latency []time.Duration

// quantile is the nearest-rank q-quantile; 0 for no samples.
func (l latency) quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	i := max(0, int(math.Ceil(q*float64(len(l))))-1)
	return l[min(i, len(l)-1)]
}

func (l latency) p50us() float64 { return float64(l.quantile(0.50)) / float64(time.Microsecond) }

// p99us is nil when there are no samples, so the JSON line shows null.
func (l latency) p99us() *float64 {
	if len(l) == 0 {
		return nil
	}
	return ptr(math.Round(float64(l.quantile(0.99)) / float64(time.Microsecond)))
}

// latencies calls op on one goroutine, one call at a time, for the warm-up and then
// for -duration, and returns the sorted latencies of the calls in the measured window.
func latencies(e *env, side, name string, op func(g *entryGen) error) (latency, error) {
	g := newEntryGen(0)
	for end := time.Now().Add(e.cfg.warmup); time.Now().Before(end); {
		if err := op(g); err != nil {
			return nil, fmt.Errorf("%s %s: %w", side, name, err)
		}
	}
	stop, err := e.maybeProfile(side, name)
	if err != nil {
		return nil, err
	}
	var l latency
	start := time.Now()
	end := start.Add(e.cfg.duration)
	for {
		t := time.Now()
		if !t.Before(end) {
			break
		}
		if err := op(g); err != nil {
			stop()
			return nil, fmt.Errorf("%s %s: %w", side, name, err)
		}
		l = append(l, time.Since(t))
	}
	if err := stop(); err != nil {
		return nil, err
	}
	slices.Sort(l)
	e.logf("%s %s %s: %d sequential ops in %v: p50 %v, p90 %v, p99 %v, max %v", e.suite.name, name, side, len(l),
		time.Since(start).Round(time.Millisecond), l.quantile(0.5).Round(time.Microsecond), l.quantile(0.9).Round(time.Microsecond),
		l.quantile(0.99).Round(time.Microsecond), l.quantile(1).Round(time.Microsecond))
	return l, nil
}

// waitOrFail waits d, or less when a worker reports an error.
func waitOrFail(d time.Duration, errc <-chan error) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case err := <-errc:
		return err
	}
}

// wroteNote says how many bytes the process passed to write calls per op, when known.
func wroteNote(written, ops int64) string {
	if written <= 0 || ops <= 0 {
		return ""
	}
	return fmt.Sprintf(", wrote %.1f MiB (%.0f B/op)", float64(written)/(1<<20), float64(written)/float64(ops))
}
