package main

// Suite cluster: the commit throughput of a 3-node sopd cluster against the raw rate
// of the R3 JetStream cluster under it, in the same run, each on its own fresh set of
// processes on loopback started by package faults (the multi-process test harness).
//
// Case commit-vs-r3-publish (commits/s against messages/s):
//
//	sop   three nats-server processes (a JetStream cluster, built from sop's
//	      nats-server dependency), a redis-server and three `sopd serve` processes
//	      in cluster mode (--nats-url, --redis-url, --journal-replicas 3, the default
//	      lease TTL, --log-level info): domain default's journal is an R3 stream and
//	      one node holds its lease and leads. -clients (64) goroutines each put one
//	      item at a time with client.Client.Put (HTTP PUT .../items/{key}), goroutine
//	      i with a client of node i%3. With -write-to leader (the default) the
//	      clients are made with client.Options.WriteToLeader: each put goes straight
//	      to the domain's leader, learned from the node's /v1/status. With -write-to
//	      any each put goes to the client's node, so two thirds of the writes reach
//	      a follower, which forwards them to the leader over NATS request/reply and
//	      answers once it has applied the commit itself. With -batch-writes (the
//	      default) the clients are made with client.Options.BatchWrites: the
//	      concurrent puts of one client travel together in POST .../txns requests,
//	      each put still its own transaction, answered when it has committed. Keys are 16 hex digits, values a JSON string of
//	      256 hex digits (suite http's). Each client of a node keeps up to -clients
//	      idle keep-alive connections.
//	peer  three fresh nats-server processes started the same way (the same binary,
//	      flags and default settings), one R3 file-storage stream with
//	      AllowAtomicPublish, and one publisher appending atomic batches of -clients
//	      messages back to back, its headers set by hand (Nats-Batch-Id,
//	      Nats-Batch-Sequence, and Nats-Batch-Commit on the last message, which is
//	      a request): it waits for each batch's ack before the next. Each message
//	      is a journal entry built like the ones sop appends for these puts (the
//	      case reports both sizes). That is the most sop's group commit can get from
//	      the stream with -clients writers: at most -clients entries in flight, one
//	      batch at a time, as sop's leader appends one fenced group at a time.
//
// Durability, the same on both sides: an append is acknowledged once the stream's
// raft group has it on a quorum (2 of 3 servers, each written to its file store);
// the servers run nats-server's default sync (fsync in the background every 2
// minutes, not per message), sop's --journal-sync applying only to its embedded
// server, which cluster mode does not use.
//
// Timing: each side runs -warmup unmeasured, then -duration measured (throughputOf);
// starting the processes is not timed. The sopd and nats-server binaries are built
// once (go build, cached) before either side starts.
//
// Checks: sop: afterwards every node converges to one state hash and the store holds
// as many items as puts were acknowledged; peer: the stream's last seq equals the
// messages acknowledged.
//
// Profile: the work happens in other processes, so the case reports the CPU time
// each process used during the side's run (warm-up and measured window), in cores,
// their total per operation, and what the whole machine used (more than the total
// when processes outside the case ran too); on 2 CPUs no sum exceeds 2. It also
// reads the tail of sop's journal back: the size of its entries and how many
// commits went into each group commit (atomic batch). -cpuprofile profiles only the
// bench process (sop's HTTP clients); -server-profiles DIR also takes a CPU profile of
// every nats-server (--profile) and sopd (--pprof) of each side over its run.

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
)

const (
	caseClusterR3 = "commit-vs-r3-publish"
	clusterNodes  = 3
	clusterNATS   = 3
	clusterTarget = 0.5
)

func runCluster(e *env) ([]result, error) {
	dir, err := buildBinaries(e, caseClusterR3)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var sop sopClusterRun
	var peer r3Run
	if e.runSop() {
		if sop, err = sopClusterThroughput(e, caseClusterR3); err != nil {
			return nil, err
		}
	}
	if e.runPeer() {
		if peer, err = r3Throughput(e, caseClusterR3); err != nil {
			return nil, err
		}
	}
	noteCluster(e, sop, peer)
	r := newResult(e, caseClusterR3, "commits/s", sop.rate, peer.rate)
	r.Unit = "commits/s"
	return []result{r}, nil
}

// noteCluster states the case's settings and what each side measured besides its
// rate in the table header.
func noteCluster(e *env, sop sopClusterRun, peer r3Run) {
	c := e.cfg
	e.note("durability, both sides: acknowledged once the R3 stream's raft quorum (2 of 3 nats-servers) has it in its file store; nats-server default sync (background fsync every 2 min, not per message)")
	e.note("timing: %v warm-up, then %v measured, per side; each side on fresh processes (starting them untimed)", c.warmup, c.duration)
	route := "straight to the leader (client.Options.WriteToLeader)"
	if c.writeTo == "any" {
		route = "through their own node (followers forward to the leader)"
	}
	if c.batchPuts {
		route += ", concurrent puts of a client sent together (client.Options.BatchWrites: POST .../txns, each put its own transaction and answer)"
	}
	e.note("sop: %d sopd nodes in cluster mode (Redis leases, journal R3 on %d nats-servers), %d HTTP writers with clients of the nodes in turn, writing %s, each putting a 16-hex-digit key and a 258-byte JSON value, one at a time",
		clusterNodes, clusterNATS, c.clients, route)
	if e.runSop() {
		e.note("sop: journal entry %d bytes; %.1f commits per group commit (the run's last %d); CPU in cores (warm-up and measured window): %s; %v per commit",
			sop.entry, sop.group, sop.sampled, sop.cpu, sop.cpu.perOp(sop.rate).Round(time.Microsecond))
	}
	e.note("jetstream-r3: %d nats-servers, one R3 stream (file, AllowAtomicPublish), one publisher, atomic batches of %d messages, each ack awaited (msgs/s)",
		clusterNATS, r3Batch(c))
	if e.runPeer() {
		e.note("jetstream-r3: message %d bytes; CPU in cores (warm-up and measured window): %s; %v per message",
			peer.entry, peer.cpu, peer.cpu.perOp(peer.rate).Round(time.Microsecond))
	}
	e.note("commit-vs-r3-publish: target sop/jetstream-r3 >= %.1f", clusterTarget)
}

// cpuSample is the CPU time used so far by this process and its children, by name
// (processCPU), and by the whole machine.
type cpuSample struct {
	procs   map[string]time.Duration
	machine time.Duration
	at      time.Time
}

func sampleCPU() cpuSample {
	return cpuSample{procs: processCPU(), machine: machineCPU(), at: time.Now()}
}

// cpuUse is the CPU used between two samples.
type cpuUse struct {
	procs   map[string]time.Duration
	total   time.Duration // the bench and its children
	machine time.Duration // every process on the machine
	elapsed time.Duration
}

func cpuBetween(a, b cpuSample) cpuUse {
	u := cpuUse{procs: map[string]time.Duration{}, machine: b.machine - a.machine, elapsed: b.at.Sub(a.at)}
	for n, d := range b.procs {
		u.procs[n] = d - a.procs[n]
		u.total += d - a.procs[n]
	}
	return u
}

func (u cpuUse) cores(d time.Duration) float64 { return d.Seconds() / u.elapsed.Seconds() }

// String lists the cores each process used, the busiest first, then the total, and
// what the whole machine used (more when other processes ran too).
func (u cpuUse) String() string {
	if len(u.procs) == 0 || u.elapsed <= 0 {
		return ""
	}
	names := slices.Collect(maps.Keys(u.procs))
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(u.procs[b], u.procs[a]), cmp.Compare(a, b)) })
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %.2f", n, u.cores(u.procs[n])))
	}
	return fmt.Sprintf("%s; total %.2f, whole machine %.2f", strings.Join(parts, ", "), u.cores(u.total), u.cores(u.machine))
}

// perOp is the CPU time the bench and its children used per operation at rate
// ops/s, taking the warm-up's rate to be the measured one.
func (u cpuUse) perOp(rate float64) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(u.cores(u.total) / rate * float64(time.Second))
}

// measureCPU runs fn and returns the CPU the processes used while it ran.
func measureCPU(fn func() error) (cpuUse, error) {
	before := sampleCPU()
	err := fn()
	return cpuBetween(before, sampleCPU()), err
}
