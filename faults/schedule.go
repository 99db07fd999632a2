package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"
)

// Fault is a kind of fault the schedule injects.
type Fault string

// The faults. Each is injected on a running cluster, and the cluster is
// given the time to recover (one leader again) before the next.
const (
	LeaderKill   Fault = "leader-kill"   // SIGKILL the leader of domain default, start it again
	NATSKill     Fault = "nats-kill"     // SIGKILL a NATS server, start it again with its store
	RedisRestart Fault = "redis-restart" // restart Redis empty (every lease lost)
	Pause        Fault = "pause"         // SIGSTOP the leader past its lease, then SIGCONT
	Cut          Fault = "network-cut"   // cut a node (the leader) off from NATS and Redis, then heal
	DiskError    Fault = "disk-error"    // EIO or ENOSPC on a node's page files: it fails over to its passive dir
	faultsKnown        = "leader-kill, nats-kill, redis-restart, pause, network-cut, disk-error"
)

// Counts is how many of each fault a schedule has.
type Counts map[Fault]int

// ShortCounts is the schedule `make test` runs: the minimum.
var ShortCounts = Counts{LeaderKill: 10, NATSKill: 5, RedisRestart: 3, Pause: 5, Cut: 3, DiskError: 2}

// Scale multiplies every count but DiskError's, which is bounded by the
// nodes that can still fail over (one per node).
func (c Counts) Scale(k int) Counts {
	out := Counts{}
	for f, n := range c {
		out[f] = n * k
		if f == DiskError {
			out[f] = n
		}
	}
	return out
}

// String lists the counts in a fixed order.
func (c Counts) String() string {
	var parts []string
	for _, f := range []Fault{LeaderKill, NATSKill, RedisRestart, Pause, Cut, DiskError} {
		parts = append(parts, fmt.Sprintf("%s %d", f, c[f]))
	}
	return strings.Join(parts, ", ")
}

// Schedule is the order in which a run injects its faults: counts,
// shuffled by seed.
func Schedule(counts Counts, seed uint64) []Fault {
	var out []Fault
	keys := make([]string, 0, len(counts))
	for f := range counts {
		keys = append(keys, string(f))
	}
	sort.Strings(keys)
	for _, k := range keys {
		for range counts[Fault(k)] {
			out = append(out, Fault(k))
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// Injector injects faults into a cluster and records what it did.
type Injector struct {
	C        *Cluster
	LeaseTTL time.Duration
	Recover  time.Duration // how long the cluster has to get one leader back
	rng      *rand.Rand
	done     Counts
	failed   map[*Node]bool // nodes that failed over already
	errnos   []string
}

// NewInjector returns an injector for c, whose nodes lead by leases of
// leaseTTL.
func NewInjector(c *Cluster, leaseTTL time.Duration, seed uint64) *Injector {
	return &Injector{C: c, LeaseTTL: leaseTTL, Recover: 60 * time.Second, rng: rand.New(rand.NewPCG(seed, 1)),
		done: Counts{}, failed: map[*Node]bool{}, errnos: []string{"EIO", "ENOSPC"}}
}

// Done is how many faults of each kind were injected.
func (in *Injector) Done() Counts { return in.done }

// Outage is how long Pause stops the leader and Cut cuts it off: 2.5 lease
// times, so that its lease runs out and another node takes over.
func (in *Injector) Outage() time.Duration { return in.LeaseTTL * 5 / 2 }

// Inject injects one fault and waits until domain default has one leader
// again; it returns a line describing what happened.
func (in *Injector) Inject(ctx context.Context, f Fault) (string, error) {
	c := in.C
	leader, err := c.WaitLeader(ctx, "default", in.Recover)
	if err != nil {
		return "", fmt.Errorf("before %s: %w", f, err)
	}
	start := time.Now()
	var what string
	switch f {
	case LeaderKill:
		leader.Kill()
		if _, err := c.WaitLeader(ctx, "default", in.Recover); err != nil {
			return "", fmt.Errorf("%s of %s: %w", f, leader.Name, err)
		}
		took := time.Since(start)
		if err := leader.Start(in.Recover); err != nil {
			return "", err
		}
		what = fmt.Sprintf("killed leader %s; a new leader after %v", leader.Name, took.Round(time.Millisecond))
	case NATSKill:
		s := c.NATS.Servers[in.rng.IntN(len(c.NATS.Servers))]
		s.Kill()
		time.Sleep(in.LeaseTTL)
		if err := s.Start(in.Recover); err != nil {
			return "", err
		}
		what = "killed and restarted NATS server " + s.Name
	case RedisRestart:
		if err := c.Redis.Restart(); err != nil {
			return "", err
		}
		what = "restarted Redis"
	case Pause:
		if err := leader.Pause(); err != nil {
			return "", err
		}
		time.Sleep(in.Outage())
		if err := leader.Resume(); err != nil {
			return "", err
		}
		what = fmt.Sprintf("paused leader %s for %v", leader.Name, in.Outage())
	case Cut:
		leader.Cut()
		time.Sleep(in.Outage())
		leader.Heal()
		what = fmt.Sprintf("cut leader %s off from NATS and Redis for %v", leader.Name, in.Outage())
	case DiskError:
		victim := leader
		if in.failed[victim] || victim.Passive == "" {
			victim = nil
			for _, n := range c.Nodes {
				if !in.failed[n] && n.Passive != "" {
					victim = n
					break
				}
			}
		}
		if victim == nil {
			return "", fmt.Errorf("%s: no node left that can fail over (each can once)", f)
		}
		errno := in.errnos[in.done[DiskError]%len(in.errnos)]
		if err := victim.InjectIO(errno); err != nil {
			return "", err
		}
		if err := in.waitFailedOver(ctx, victim); err != nil {
			return "", err
		}
		victim.ClearIO()
		in.failed[victim] = true
		what = fmt.Sprintf("%s on %s's page files: failed over to its passive dir", errno, victim.Name)
	default:
		return "", fmt.Errorf("unknown fault %q (known: %s)", f, faultsKnown)
	}
	if _, err := c.WaitLeader(ctx, "default", in.Recover); err != nil {
		return "", fmt.Errorf("after %s: %w", f, err)
	}
	for _, n := range c.Nodes {
		if err := n.WaitReady(in.Recover); err != nil {
			return "", fmt.Errorf("after %s: %w", f, err)
		}
	}
	in.done[f]++
	return fmt.Sprintf("%s: %s (recovered in %v)", f, what, time.Since(start).Round(time.Millisecond)), nil
}

// waitFailedOver waits until n reports a finished storage failover.
func (in *Injector) waitFailedOver(ctx context.Context, n *Node) error {
	deadline := time.Now().Add(in.Recover)
	for time.Now().Before(deadline) {
		st, err := n.Client.Status(ctx)
		if err == nil && st.Failovers > 0 && st.StorageError == "" && st.DataDir == n.Passive {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not fail over to its passive dir within %v", n.Name, in.Recover)
}

// Random is a fault chosen at random among kinds, for soak runs: disk
// errors only while a node can still fail over.
func (in *Injector) Random(kinds []Fault) Fault {
	for {
		f := kinds[in.rng.IntN(len(kinds))]
		if f != DiskError || slices.ContainsFunc(in.C.Nodes, func(n *Node) bool { return !in.failed[n] && n.Passive != "" }) {
			return f
		}
	}
}
