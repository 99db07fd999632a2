// Command bench measures sop against its peers side by side: each suite runs sop and
// one peer on the same data, in the same process, one after the other, and prints one
// JSON line per case followed by a table.
//
// Usage:
//
//	go run . [flags] SUITE [flags]
//
// SUITE is a suite name or "all". Each suite is a run function in a file of its own
// name (btree.go), wired into the suites table below; its peers live only in this
// module (bench/ has its own go.mod), so they never enter sop's dependencies. Progress
// lines go to stderr; stdout carries only the JSON lines and the tables.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// suite is one benchmark suite. run measures every case with the settings in env and
// returns one result per case.
type suite struct {
	name  string
	about string
	peer  string
	run   func(env *env) ([]result, error)
}

// suites lists every suite in the order "all" runs them.
var suites = []suite{
	{name: "btree", about: "sop's on-disk B-tree against bbolt: insert, get, scan", peer: "bbolt", run: runBtree},
	{name: "engine", about: "sop's commits against raw JetStream appends and etcd: throughput, latency", peer: "jetstream, etcd", run: runEngine},
	{name: "http", about: "sopd's HTTP API against etcd's gRPC API: put throughput, watch delivery latency", peer: "etcd", run: runHTTP},
	{name: "replay", about: "sop's journal replay and snapshot restore against a JetStream ordered consumer and a bbolt load", peer: "jetstream, bbolt", run: runReplay},
	{name: "cluster", about: "a 3-node sopd cluster's commits against raw R3 JetStream atomic batches, on loopback processes", peer: "jetstream-r3", run: runCluster},
}

// config holds the command-line settings every suite shares.
type config struct {
	keys       int
	batch      int
	dir        string
	cpuprofile string
	serverProf string        // cluster: directory for CPU profiles of every server process
	engine     string        // "both", "sop" or "peer"
	pageSize   int           // sop's B-tree page size; 0: its default
	duration   time.Duration // engine: how long each engine is measured in each case
	warmup     time.Duration // engine: how long each engine runs before it is measured
	clients    int           // engine: concurrent committers in the throughput cases
	watchers   int           // http: concurrent watchers in the watch case
	watchRate  int           // http: commits per second the watch case's writer paces
	writeTo    string        // cluster: "leader" (client.Options.WriteToLeader) or "any" (followers forward)
	batchPuts  bool          // cluster: client.Options.BatchWrites
	replayN    int           // replay: journal entries replayed in the replay case
	restoreN   int           // replay: keys in the snapshot the restore case restores
}

// errUsage marks a bad command line; main exits 2 on it.
var errUsage = errors.New("usage")

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	cfg, chosen, err := parseArgs(args, stderr)
	if err != nil {
		return err
	}
	root, err := os.MkdirTemp(cfg.dir, "sop-bench-")
	if err != nil {
		return fmt.Errorf("create work dir: %w", err)
	}
	defer os.RemoveAll(root)
	for _, s := range chosen {
		env := &env{cfg: cfg, suite: s, dir: root, log: stderr}
		if err := runSuite(env, stdout); err != nil {
			return fmt.Errorf("suite %s: %w", s.name, err)
		}
	}
	return nil
}

// parseArgs reads flags before and after the suite name, so both
// `go run . -keys 1000 btree` and `go run . btree -keys 1000` work.
func parseArgs(args []string, stderr io.Writer) (config, []suite, error) {
	var cfg config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.keys, "keys", 1_000_000, "number of keys each engine loads")
	fs.IntVar(&cfg.batch, "batch", 1000, "writes per durable commit, and gets per read transaction")
	fs.StringVar(&cfg.dir, "dir", "", "parent of the run's fresh work directory, which is removed at the end (default: the system temp dir)")
	fs.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of sop's side of each case to this `file`, the case name inserted before its extension (sop.pprof -> sop.btree-insert.pprof)")
	fs.StringVar(&cfg.serverProf, "server-profiles", "", "cluster: write a CPU profile of every nats-server and sopd process over each side's run (warm-up and measured window) into this `dir`, as <case>-<side>-<process>.pprof")
	fs.StringVar(&cfg.engine, "engine", "both", "which side to run: both, sop or peer")
	fs.IntVar(&cfg.pageSize, "pagesize", 0, "run sop's B-tree once, at this page size in bytes (default: twice, at bbolt's page size and at sop's default)")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "engine: how long each engine is measured in each case")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "engine: how long each engine runs, unmeasured, before it is measured")
	fs.IntVar(&cfg.clients, "clients", 64, "engine: concurrent committers in the throughput cases, and messages per group in the JetStream peer")
	fs.IntVar(&cfg.watchers, "watchers", 1000, "http: concurrent watchers in the watch-latency case")
	fs.IntVar(&cfg.watchRate, "watch-rate", 5000, "http: commits per second written while the watchers watch")
	fs.StringVar(&cfg.writeTo, "write-to", "leader", "cluster: where the writers send their puts: leader (the Go client's WriteToLeader: straight to the domain's leader) or any (through the writer's own node; followers forward)")
	fs.BoolVar(&cfg.batchPuts, "batch-writes", true, "cluster: the writers' clients send concurrent puts together (the Go client's BatchWrites: POST .../txns, each put still its own transaction and answer)")
	fs.IntVar(&cfg.replayN, "replay-entries", 100_000, "replay: journal entries the replay case replays (the first creates the store, each other puts one item)")
	fs.IntVar(&cfg.restoreN, "restore-keys", 1_000_000, "replay: keys in the snapshot the restore case restores")
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(args); err != nil {
		return cfg, nil, parseError(err)
	}
	if fs.NArg() == 0 {
		return cfg, nil, badUsage(fs, "no suite given")
	}
	name := fs.Arg(0)
	if err := fs.Parse(fs.Args()[1:]); err != nil {
		return cfg, nil, parseError(err)
	}
	if fs.NArg() != 0 {
		return cfg, nil, badUsage(fs, "one suite at a time; unexpected %q", fs.Arg(0))
	}
	if cfg.keys < 1 || cfg.batch < 1 {
		return cfg, nil, badUsage(fs, "-keys and -batch must be at least 1")
	}
	if cfg.watchers < 1 || cfg.watchRate < 1 {
		return cfg, nil, badUsage(fs, "-watchers and -watch-rate must be at least 1")
	}
	if cfg.replayN < 1 || cfg.restoreN < 1 {
		return cfg, nil, badUsage(fs, "-replay-entries and -restore-keys must be at least 1")
	}
	if cfg.duration <= 0 || cfg.warmup < 0 || cfg.clients < 1 {
		return cfg, nil, badUsage(fs, "-duration must be positive, -warmup not negative, -clients at least 1")
	}
	if cfg.writeTo != "leader" && cfg.writeTo != "any" {
		return cfg, nil, badUsage(fs, "-write-to must be leader or any, not %q", cfg.writeTo)
	}
	if cfg.engine != "both" && cfg.engine != "sop" && cfg.engine != "peer" {
		return cfg, nil, badUsage(fs, "-engine must be both, sop or peer, not %q", cfg.engine)
	}
	chosen, ok := pickSuites(name)
	if !ok {
		return cfg, nil, badUsage(fs, "unknown suite %q", name)
	}
	return cfg, chosen, nil
}

// parseError keeps -h apart from a bad flag: the flag package has already printed
// the usage for both.
func parseError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return errUsage
}

func pickSuites(name string) ([]suite, bool) {
	if name == "all" {
		return suites, true
	}
	for _, s := range suites {
		if s.name == name {
			return []suite{s}, true
		}
	}
	return nil, false
}

func badUsage(fs *flag.FlagSet, format string, a ...any) error {
	fmt.Fprintf(fs.Output(), "bench: "+format+"\n\n", a...)
	fs.Usage()
	return errUsage
}

func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprintf(w, "Usage: go run . [flags] SUITE\n\n")
	fmt.Fprintf(w, "Runs sop and a peer on the same data in one process and prints one JSON line per\n")
	fmt.Fprintf(w, "case to stdout, then a table:\n")
	fmt.Fprintf(w, "  {\"suite\":S,\"case\":C,\"sop\":OPS,\"peer\":P,\"peer_value\":OPS,\"ratio\":SOP/PEER}\n")
	fmt.Fprintf(w, "(suite engine adds \"unit\", and for its latency case \"sop_p99\" and \"peer_p99\";\n")
	fmt.Fprintf(w, "there the values are latencies in microseconds, and lower is better)\n\n")
	fmt.Fprintf(w, "Suites:\n")
	names := make([]string, 0, len(suites))
	for _, s := range suites {
		fmt.Fprintf(w, "  %-8s %s\n", s.name, s.about)
		names = append(names, s.name)
	}
	fmt.Fprintf(w, "  %-8s every suite in turn (%s)\n\nFlags:\n", "all", strings.Join(names, ", "))
	fs.PrintDefaults()
}

// machine describes where the numbers come from, for the table header.
func machine(dir string) string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s, work dir on %s", runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), runtime.Version(), fsType(dir))
}
