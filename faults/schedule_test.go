package faults_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sopd/sop/client"
	"github.com/sopd/sop/faults"
	"github.com/sopd/sop/faults/check"
	"github.com/sopd/sop/internal/testseed"
	"github.com/sopd/sop/journal"
)

// TestFaultSchedule is the fault suite (make test-fault): a three-node
// cluster (three NATS servers with R3 journals, Redis, three sopd nodes
// with passive data dirs) runs three workloads at once: registers
// (linearizable reads, writes, compare-and-sets on a few keys through
// random nodes), bank transfers with conflicts, and a change-stream
// watcher on every node; meanwhile the schedule injects its faults one
// after another. Then: linearizability (porcupine), the bank (total
// constant, every acknowledged transfer exactly once), every watcher's
// stream against the journal, convergence, and one leader at a time in
// the journal; and enough work for those checks to count (tooLittle: at
// least 1000 register operations, transfers acknowledged and failed,
// events on every watcher).
//
// The schedule: faults.ShortCounts by default (10 leader kills, 5 NATS
// server kills, 3 Redis restarts, 5 pauses past the lease, 3 network
// cuts, 2 disk errors); SOP_FAULTS=long five times as many (disk errors
// excepted); SOP_SOAK=<duration> random faults until the duration
// passed. SOP_FAULTS_REPORT=<file> writes the summary as Markdown.
func TestFaultSchedule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs NATS, Redis and sopd processes; skipped with -short")
	}
	seed := testseed.Seed(t)
	counts := faults.ShortCounts
	var soak time.Duration
	switch mode := os.Getenv("SOP_FAULTS"); mode {
	case "", "short":
	case "long":
		counts = counts.Scale(5)
	default:
		t.Fatalf("SOP_FAULTS=%q: use short (the default) or long", mode)
	}
	if s := os.Getenv("SOP_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("SOP_SOAK=%q is not a positive duration such as 30m", s)
		}
		soak = d
	}
	const ttl = time.Second
	// Snapshots in JetStream, so every node restores any of them; a short
	// retain, so a snapshot truncates the journal during the run.
	c := faults.StartCluster(t, faults.ClusterOptions{LeaseTTL: ttl, Passive: true,
		Args: []string{"--snapshot-store", "jetstream", "--journal-retain", "500"}})
	ctx := context.Background()
	leader := c.Leader(ctx, "default")
	regs := &faults.Registers{Keys: 10}
	bank := &faults.Bank{Accounts: 8, Initial: 1000}
	if err := regs.Setup(ctx, leader); err != nil {
		t.Fatal(err)
	}
	if err := bank.Setup(ctx, leader); err != nil {
		t.Fatal(err)
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	var watchers []*faults.StreamWatcher
	for _, n := range c.Nodes {
		watchers = append(watchers, faults.WatchStream(wctx, n))
	}
	stopRegs := regs.Run(ctx, c.Nodes, 4, seed)
	stopBank := bank.Run(ctx, c.Nodes, 4, seed+1)
	defer func() { stopRegs(); stopBank() }()

	in := faults.NewInjector(c, ttl, seed+2)
	start := time.Now()
	step := func(f faults.Fault) {
		line, err := in.Inject(ctx, f)
		if err != nil {
			t.Fatalf("%v\n%s", err, c.SaveLogs(filepath.Join(os.TempDir(), fmt.Sprintf("sop-faults-%d", seed))))
		}
		t.Logf("%3d  %s", sumCounts(in.Done()), line)
		time.Sleep(300 * time.Millisecond) // the workloads run between faults
	}
	// Halfway, a snapshot truncates the journal: the stream check reads the
	// events it purges first; nodes restarted later restore the snapshot.
	var purged []check.Event
	truncated := false
	compact := func() {
		if truncated {
			return
		}
		truncated = true
		var err error
		if purged, err = truncate(ctx, c, watchers); err != nil {
			t.Fatalf("%v\n%s", err, c.Logs())
		}
	}
	if soak > 0 {
		kinds := []faults.Fault{faults.LeaderKill, faults.NATSKill, faults.RedisRestart, faults.Pause, faults.Cut, faults.DiskError}
		for time.Since(start) < soak {
			step(in.Random(kinds))
			if time.Since(start) > soak/2 {
				compact()
			}
		}
	} else {
		schedule := faults.Schedule(counts, seed)
		for i, f := range schedule {
			step(f)
			if i == len(schedule)/2 {
				compact()
			}
		}
		for f, n := range counts {
			if in.Done()[f] != n {
				t.Fatalf("%s: %d injected, the schedule has %d", f, in.Done()[f], n)
			}
		}
	}
	faultTime := time.Since(start)
	stopRegs()
	stopBank()

	var sum check.Summary
	lin, err := check.Linearizable(regs.Ops(), 3*time.Minute, filepath.Join(t.TempDir(), "linearizability.html"))
	if err != nil {
		t.Fatal(err)
	}
	sum.AddLinearizable(lin)
	for _, n := range c.Nodes {
		res, err := bank.Check(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		sum.AddBank(res)
	}
	from := journal.Seq(1)
	if len(purged) > 0 {
		from = journal.Seq(purged[len(purged)-1].Seq + 1)
	}
	rest, err := faults.JournalEvents(ctx, c.NATS.URL(), "default", from)
	if err != nil {
		t.Fatal(err)
	}
	want := append(purged, rest...)
	streams := faults.StopStreams(stopWatch, watchers, want, time.Minute)
	for _, r := range streams {
		sum.AddStream(r)
	}
	hash, convErr := c.WaitConverged(ctx, "default", time.Minute)
	sum.AddConverged(convErr)
	leaders, leaderErr := faults.CheckLeaderEntries(ctx, c.NATS.URL(), "default")

	report := fmt.Sprintf("seed %d; faults in %v: %s\n%s\nleader entries in the journal: %d; converged at %s\n",
		seed, faultTime.Round(time.Second), in.Done(), sum.String(), leaders, hash)
	t.Log(report)
	if path := os.Getenv("SOP_FAULTS_REPORT"); path != "" {
		md := fmt.Sprintf("Seed %d, faults injected in %v: %s.\n\n%s\nLeader entries in the journal: %d; state hash at the end: `%s`.\n",
			seed, faultTime.Round(time.Second), in.Done(), sum.Markdown(), leaders, hash)
		if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !sum.Ok() || leaderErr != nil {
		if lin.Visualization != "" {
			// Keep the visualisation where a person can open it.
			keep := filepath.Join(os.TempDir(), fmt.Sprintf("sop-linearizability-%d.html", seed))
			if b, err := os.ReadFile(lin.Visualization); err == nil && os.WriteFile(keep, b, 0o644) == nil {
				report += "porcupine's visualisation: " + keep + "\n"
			}
		}
		t.Fatalf("the fault suite found violations:\n%s\nleader entries: %v\n%s", report, leaderErr,
			c.SaveLogs(filepath.Join(os.TempDir(), fmt.Sprintf("sop-faults-%d", seed))))
	}
	if little := tooLittle(sum, streams, len(c.Nodes)); len(little) > 0 {
		t.Fatalf("the workloads did too little for the checks to show anything:\n%s\n%s",
			strings.Join(little, "\n"), report)
	}
}

// minOps is the fewest register operations a run must check: a short run
// checks about 4000.
const minOps = 1000

// tooLittle lists what shows that the workloads of a run on nodes nodes
// did too little for its checks to mean anything (a run without
// operations has no violations either): fewer than minOps register
// operations, no acknowledged or no failed transfer (the bank checks
// that the first land once and the second never), a bank check or a
// watcher missing for a node, a watcher given no events, no convergence
// check.
func tooLittle(sum check.Summary, streams []check.StreamResult, nodes int) []string {
	var out []string
	if l := sum.Linearizability; l.Ops < minOps {
		out = append(out, fmt.Sprintf("linearizability: %d ops checked, want at least %d", l.Ops, minOps))
	}
	if b := sum.Bank; b.Runs != nodes || b.Acknowledged == 0 || b.Failed == 0 {
		out = append(out, fmt.Sprintf("bank: %d runs on %d nodes, %d transfers acknowledged and %d failed: want a run per node, both counts above 0",
			b.Runs, nodes, b.Acknowledged, b.Failed))
	}
	if len(streams) != nodes {
		out = append(out, fmt.Sprintf("change streams: %d watchers on %d nodes", len(streams), nodes))
	}
	for _, r := range streams {
		if r.Want == 0 || r.Got == 0 {
			out = append(out, fmt.Sprintf("change streams: watcher %s got %d of %d events, want some", r.Watcher, r.Got, r.Want))
		}
	}
	if sum.Convergence.Checks < 1 {
		out = append(out, "convergence: not checked")
	}
	return out
}

// TestTooLittle: each shortfall of the workloads is reported, and a run
// that did its work is not.
func TestTooLittle(t *testing.T) {
	busy := func() (check.Summary, []check.StreamResult) {
		var sum check.Summary
		sum.Linearizability.Ops = minOps
		sum.Bank = check.BankStats{Runs: 3, Acknowledged: 1, Failed: 1}
		sum.Convergence.Checks = 1
		streams := []check.StreamResult{{Watcher: "n1", Want: 5, Got: 5}, {Watcher: "n2", Want: 5, Got: 5}, {Watcher: "n3", Want: 5, Got: 5}}
		return sum, streams
	}
	if sum, streams := busy(); tooLittle(sum, streams, 3) != nil {
		t.Fatalf("a busy run reported as idle: %q", tooLittle(sum, streams, 3))
	}
	for name, idle := range map[string]func(*check.Summary, *[]check.StreamResult){
		"few ops":          func(s *check.Summary, _ *[]check.StreamResult) { s.Linearizability.Ops = minOps - 1 },
		"no acknowledged":  func(s *check.Summary, _ *[]check.StreamResult) { s.Bank.Acknowledged = 0 },
		"no failed":        func(s *check.Summary, _ *[]check.StreamResult) { s.Bank.Failed = 0 },
		"a bank run short": func(s *check.Summary, _ *[]check.StreamResult) { s.Bank.Runs = 2 },
		"a watcher short":  func(_ *check.Summary, w *[]check.StreamResult) { *w = (*w)[:2] },
		"nothing wanted":   func(_ *check.Summary, w *[]check.StreamResult) { (*w)[1].Want = 0 },
		"nothing got":      func(_ *check.Summary, w *[]check.StreamResult) { (*w)[2].Got = 0 },
		"no convergence":   func(s *check.Summary, _ *[]check.StreamResult) { s.Convergence.Checks = 0 },
	} {
		sum, streams := busy()
		idle(&sum, &streams)
		if got := tooLittle(sum, streams, 3); len(got) != 1 {
			t.Errorf("%s: reported %q, want one line", name, got)
		}
	}
}

// TestShortCounts: the short schedule has at least the faults the
// reliability issue asks for, and a pause or cut outlasts the lease.
func TestShortCounts(t *testing.T) {
	minimum := faults.Counts{faults.LeaderKill: 10, faults.NATSKill: 5, faults.RedisRestart: 3,
		faults.Pause: 5, faults.Cut: 3, faults.DiskError: 2}
	schedule := faults.Counts{}
	for _, f := range faults.Schedule(faults.ShortCounts, 1) {
		schedule[f]++
	}
	for f, n := range minimum {
		if faults.ShortCounts[f] < n || schedule[f] < n || faults.ShortCounts.Scale(5)[f] < n {
			t.Errorf("%s: %d in ShortCounts, %d in its schedule, %d in the long one; the issue asks for at least %d",
				f, faults.ShortCounts[f], schedule[f], faults.ShortCounts.Scale(5)[f], n)
		}
	}
	for _, ttl := range []time.Duration{time.Second, 3 * time.Second} {
		if out := faults.NewInjector(nil, ttl, 1).Outage(); out <= ttl {
			t.Errorf("lease %v: pauses and cuts last %v, want longer than the lease", ttl, out)
		}
	}
}

func sumCounts(c faults.Counts) int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// truncate waits until every watcher is near the journal's end, reads the
// events the journal holds, takes a snapshot on the leader (whose
// automatic truncation, with --journal-retain 500, purges all but the
// last 500 entries), and checks that the journal was truncated. It
// returns the events read. The leader entries of the part to be purged
// are checked first.
func truncate(ctx context.Context, c *faults.Cluster, ws []*faults.StreamWatcher) ([]check.Event, error) {
	leader, err := c.WaitLeader(ctx, "default", time.Minute)
	if err != nil {
		return nil, err
	}
	st, err := leader.Client.Status(ctx)
	if err != nil {
		return nil, err
	}
	last := st.Domains[0].JournalLastSeq
	deadline := time.Now().Add(time.Minute)
	for _, w := range ws {
		for w.LastSeq()+50 < last {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("watcher on %s stays behind seq %d (at %d)", w.Node.Name, last, w.LastSeq())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The events up to the journal's end now; the end moves on, so the
	// rest is read after the run from just past what this read.
	evs, err := faults.JournalEvents(ctx, c.NATS.URL(), "default", 1)
	if err != nil {
		return nil, err
	}
	if _, err := faults.CheckLeaderEntries(ctx, c.NATS.URL(), "default"); err != nil {
		return nil, fmt.Errorf("the journal before the purge: %w", err)
	}
	// The snapshot store (JetStream) may still be settling after a NATS
	// server's restart: a 503 says to try again, as an operator would.
	snap, err := leader.Client.TakeSnapshot(ctx, "default")
	for deadline := time.Now().Add(time.Minute); errors.Is(err, client.ErrUnavailable) && time.Now().Before(deadline); {
		time.Sleep(time.Second)
		snap, err = leader.Client.TakeSnapshot(ctx, "default")
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot on %s: %w", leader.Name, err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		st, err := leader.Client.Status(ctx)
		if err == nil && st.Domains[0].JournalFirstSeq > 1 {
			if st.Domains[0].JournalFirstSeq > evs[len(evs)-1].Seq+1 {
				return nil, fmt.Errorf("the purge went past what was read (first %d, read up to %d)", st.Domains[0].JournalFirstSeq, evs[len(evs)-1].Seq)
			}
			return evs, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("snapshot %s at seq %d did not truncate the journal: %+v %v", snap.ID, snap.Seq, st, err)
		}
	}
}
