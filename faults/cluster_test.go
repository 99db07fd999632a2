package faults_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sopd/sop/faults"
)

// The multi-process cluster tests: three nats-server processes (journal
// streams with three replicas), a redis-server and three sopd nodes on
// loopback, with writers sending through every node while a fault hits.
// Each test ends with the same checks: every acknowledged write is on
// every node with its seq, the nodes converge to one state hash, and the
// journal shows one leader at a time (every entry after a leader entry
// comes from that leader).

// settle stops the writers, checks the ledger on every node, convergence,
// and the journal's leader entries; it returns the converged hash.
func settle(t *testing.T, c *faults.Cluster, stop func(), l *faults.Ledger) string {
	t.Helper()
	ctx := context.Background()
	stop()
	acked, unknown := l.Counts()
	t.Logf("writes: %d acknowledged, %d with an unknown outcome", acked, unknown)
	if acked == 0 {
		t.Fatal("no write was acknowledged: the workload did not run")
	}
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		if err := l.Check(ctx, n, "s"); err != nil {
			t.Fatalf("%v\n%s", err, c.Logs())
		}
	}
	hash, err := c.WaitConverged(ctx, "default", 60*time.Second)
	if err != nil {
		t.Fatalf("%v\n%s", err, c.Logs())
	}
	leaders, err := faults.CheckLeaderEntries(ctx, c.NATS.URL(), "default")
	if err != nil {
		t.Fatalf("the journal: %v", err)
	}
	t.Logf("converged at %s; %d leader entries in the journal", hash, leaders)
	return hash
}

// start starts a cluster, creates store s and starts four writers.
func start(t *testing.T, o faults.ClusterOptions) (*faults.Cluster, *faults.Ledger, func()) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs NATS, Redis and sopd processes; skipped with -short")
	}
	c := faults.StartCluster(t, o)
	ctx := context.Background()
	leader := c.Leader(ctx, "default")
	if leader == nil {
		t.Fatal("no leader")
	}
	if _, err := leader.Client.CreateStore(ctx, "default", "s", nil); err != nil {
		t.Fatal(err)
	}
	l := faults.NewLedger()
	stop := faults.Writers(ctx, c.Nodes, 4, "s", "w", l)
	waitAcked(t, c, l, 50)
	return c, l, stop
}

// waitAcked waits until the ledger has n more acknowledged writes.
func waitAcked(t *testing.T, c *faults.Cluster, l *faults.Ledger, n int) {
	t.Helper()
	base, _ := l.Counts()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if acked, _ := l.Counts(); acked >= base+n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d writes acknowledged in 60s\n%s", n, c.SaveLogs(filepath.Join(os.TempDir(), "sop-faults-"+t.Name())))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKillLeaderUnderLoad: kill -9 the leader while four writers send
// through every node: another node leads within a few lease times, the
// writes go on, the killed node restarts as a follower, nothing
// acknowledged is lost, and the nodes converge.
func TestKillLeaderUnderLoad(t *testing.T) {
	c, l, stop := start(t, faults.ClusterOptions{})
	ctx := context.Background()
	for round := range 2 {
		old := c.Leader(ctx, "default")
		old.Kill()
		killed := time.Now()
		next, err := c.WaitLeader(ctx, "default", 30*time.Second)
		if err != nil {
			t.Fatalf("round %d: %v\n%s", round, err, c.Logs())
		}
		t.Logf("round %d: killed %s; %s leads after %v", round, old.Name, next.Name, time.Since(killed).Round(time.Millisecond))
		waitAcked(t, c, l, 50)
		if err := old.Start(60 * time.Second); err != nil {
			t.Fatal(err)
		}
		waitAcked(t, c, l, 20)
	}
	settle(t, c, stop, l)
}

// TestPausedLeaderFenced: SIGSTOP the leader past its lease while writers
// keep sending (some to it); another node takes over; SIGCONT the old
// one. Whatever it had staged is fenced: the journal shows no entry of it
// after the new leader's leader entry, and nothing acknowledged is lost.
func TestPausedLeaderFenced(t *testing.T) {
	c, l, stop := start(t, faults.ClusterOptions{})
	ctx := context.Background()
	old := c.Leader(ctx, "default")
	if err := old.Pause(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var next *faults.Node
	for next == nil || next == old {
		if time.Now().After(deadline) {
			t.Fatalf("no other node leads while %s is paused\n%s", old.Name, c.Logs())
		}
		for _, n := range c.Nodes {
			if n != old && n.Role(ctx, "default") == "leader" {
				next = n
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitAcked(t, c, l, 30)
	if err := old.Resume(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitLeader(ctx, "default", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	waitAcked(t, c, l, 30)
	settle(t, c, stop, l)
	if !strings.Contains(old.Log(), "lost the domain's lease") && !strings.Contains(old.Log(), "lease on domain") {
		t.Logf("note: %s's log does not say it lost the lease", old.Name)
	}
}

// TestRedisRestartUnderLoad: restart Redis (empty, with a new run id)
// while writers run, three times: the nodes treat every lease as lost,
// one of them takes the lease again, writes go on, nothing acknowledged
// is lost, and the journal never shows two leaders at once.
func TestRedisRestartUnderLoad(t *testing.T) {
	c, l, stop := start(t, faults.ClusterOptions{})
	ctx := context.Background()
	for round := range 3 {
		before, err := faults.CheckLeaderEntries(ctx, c.NATS.URL(), "default")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Redis.Restart(); err != nil {
			t.Fatal(err)
		}
		// The lease was lost with Redis: a node takes it again, and appends
		// a leader entry.
		deadline := time.Now().Add(30 * time.Second)
		for {
			after, err := faults.CheckLeaderEntries(ctx, c.NATS.URL(), "default")
			if err != nil {
				t.Fatal(err)
			}
			if after > before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no node took the lease again after Redis restarted\n%s", round, c.Logs())
			}
			time.Sleep(50 * time.Millisecond)
		}
		n, err := c.WaitLeader(ctx, "default", 30*time.Second)
		if err != nil {
			t.Fatalf("round %d: %v\n%s", round, err, c.Logs())
		}
		t.Logf("round %d: Redis restarted; %s leads", round, n.Name)
		waitAcked(t, c, l, 30)
	}
	settle(t, c, stop, l)
}

// TestStorageFailoverUnderLoad: an injected EIO, then ENOSPC, on the
// leader's page files: it logs [Failover], counts it, gives up its lease
// (another node leads), rebuilds on its passive dir by snapshot and
// replay, and serves the same state hash as the others.
func TestStorageFailoverUnderLoad(t *testing.T) {
	c, l, stop := start(t, faults.ClusterOptions{Passive: true})
	ctx := context.Background()
	for round, errno := range []string{"EIO", "ENOSPC"} {
		victim := c.Leader(ctx, "default")
		if round == 1 {
			// The second fault hits a node that has not failed over yet.
			for _, n := range c.Nodes {
				if st, err := n.Client.Status(ctx); err == nil && st.Failovers == 0 {
					victim = n
					break
				}
			}
		}
		if err := victim.InjectIO(errno); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			st, err := victim.Client.Status(ctx)
			if err == nil && st.Failovers == 1 && st.StorageError == "" && st.DataDir == victim.Passive {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %s did not fail over to its passive dir: %+v, %v\n%s", round, victim.Name, st, err, victim.Log())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err := victim.WaitReady(30 * time.Second); err != nil {
			t.Fatal(err)
		}
		if m := metrics(t, victim); !strings.Contains(m, "\nsop_failover_count 1\n") {
			t.Fatalf("round %d: %s's /metrics lacks sop_failover_count 1:\n%s", round, victim.Name, m)
		}
		if !strings.Contains(victim.Log(), "[Failover]") || !strings.Contains(victim.Log(), strings.ToLower(fmt.Sprint(errnoText[errno]))) {
			t.Fatalf("round %d: %s's log lacks the [Failover] line with the error:\n%s", round, victim.Name, victim.Log())
		}
		if _, err := c.WaitLeader(ctx, "default", 30*time.Second); err != nil {
			t.Fatal(err)
		}
		waitAcked(t, c, l, 30)
	}
	settle(t, c, stop, l)
}

var errnoText = map[string]string{"EIO": "input/output error", "ENOSPC": "no space left on device"}

// TestKillNATSServerUnderLoad: kill -9 one of the three NATS servers, then
// another after the first is back, while writers run: the journal streams
// have three replicas, so commits go on with two; the killed server
// restarts with its store and catches up; nothing acknowledged is lost.
func TestKillNATSServerUnderLoad(t *testing.T) {
	c, l, stop := start(t, faults.ClusterOptions{})
	for round, s := range []*faults.NATSServer{c.NATS.Servers[0], c.NATS.Servers[2]} {
		s.Kill()
		waitAcked(t, c, l, 30)
		if err := s.Start(60 * time.Second); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: killed and restarted NATS server %s", round, s.Name)
		waitAcked(t, c, l, 30)
	}
	settle(t, c, stop, l)
}

// TestBankUnderFaults: a bank-transfer workload across all three nodes,
// with conflicts (each transfer is a compare-and-set on versions read on
// a random node), while the leader is killed and restarted: the total is
// constant, every acknowledged transfer is applied exactly once (its
// marker and its balance changes), none that failed is applied, and the
// nodes converge.
func TestBankUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs NATS, Redis and sopd processes; skipped with -short")
	}
	c := faults.StartCluster(t, faults.ClusterOptions{})
	ctx := context.Background()
	bank := &faults.Bank{Accounts: 8, Initial: 1000}
	if err := bank.Setup(ctx, c.Leader(ctx, "default")); err != nil {
		t.Fatal(err)
	}
	stop := bank.Run(ctx, c.Nodes, 6, 1)
	time.Sleep(2 * time.Second)
	old := c.Leader(ctx, "default")
	old.Kill()
	if _, err := c.WaitLeader(ctx, "default", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := old.Start(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	stop()
	for _, n := range c.Nodes {
		res, err := bank.Check(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Ok() || res.Acknowledged == 0 || res.Failed == 0 {
			t.Fatalf("bank on %s: %s (it needs acknowledged transfers and conflicts to show anything)", n.Name, res)
		}
		t.Logf("bank on %s: %s", n.Name, res)
	}
	if _, err := c.WaitConverged(ctx, "default", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := faults.CheckLeaderEntries(ctx, c.NATS.URL(), "default"); err != nil {
		t.Fatal(err)
	}
}

// metrics is the node's /metrics text.
func metrics(t *testing.T, n *faults.Node) string {
	t.Helper()
	text, err := faults.Metrics(n.Addr)
	if err != nil {
		t.Fatal(err)
	}
	return text
}
