package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"text/tabwriter"
	"time"
)

// env is what a suite runs with.
type env struct {
	cfg   config
	suite suite
	dir   string    // the run's work directory; each side makes its own subdirectory
	log   io.Writer // progress, as the phases finish
	notes []string  // settings the table header states, added by the suite
}

func (e *env) runSop() bool  { return e.cfg.engine != "peer" }
func (e *env) runPeer() bool { return e.cfg.engine != "sop" }

// note adds a line to the table header.
func (e *env) note(format string, a ...any) { e.notes = append(e.notes, fmt.Sprintf(format, a...)) }

func (e *env) logf(format string, a ...any) { fmt.Fprintf(e.log, format+"\n", a...) }

// measure times ops operations done by fn, runs times, each after a runtime.GC, and
// returns the best rate in ops/s. sop's side runs under the CPU profiler when
// -cpuprofile is set.
func (e *env) measure(side, name string, ops, runs int, fn func() error) (float64, error) {
	stop, err := e.maybeProfile(side, name)
	if err != nil {
		return 0, err
	}
	best := time.Duration(math.MaxInt64)
	written := bytesWritten()
	for range runs {
		runtime.GC()
		start := time.Now()
		if err := fn(); err != nil {
			stop()
			return 0, fmt.Errorf("%s %s: %w", side, name, err)
		}
		best = min(best, time.Since(start))
	}
	if err := stop(); err != nil {
		return 0, err
	}
	rate := float64(ops) / best.Seconds()
	wrote := ""
	if after := bytesWritten(); written >= 0 && after-written >= 1<<20 {
		wrote = fmt.Sprintf(", wrote %.0f MiB", float64(after-written)/(1<<20))
	}
	e.logf("%s %s %s: %d ops in %v (best of %d) = %.0f ops/s%s", e.suite.name, name, side, ops, best.Round(time.Millisecond), runs, rate, wrote)
	return rate, nil
}

// maybeProfile starts the CPU profiler for sop's side of a case when -cpuprofile is
// set, and returns the function that stops it.
func (e *env) maybeProfile(side, name string) (stop func() error, err error) {
	if e.cfg.cpuprofile == "" || side != "sop" {
		return func() error { return nil }, nil
	}
	ext := filepath.Ext(e.cfg.cpuprofile)
	path := fmt.Sprintf("%s.%s-%s%s", strings.TrimSuffix(e.cfg.cpuprofile, ext), e.suite.name, name, ext)
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		e.logf("wrote %s", path)
		return f.Close()
	}, nil
}

// result is one case: each side's throughput in ops/s, nil for a side that did not
// run (-engine). A latency case (suite engine) holds each side's median latency in
// microseconds instead, and its 99th percentile in SopP99 and PeerP99; Unit, set by
// suite engine only, says which.
type result struct {
	Suite     string   `json:"suite"`
	Case      string   `json:"case"`
	Sop       *float64 `json:"sop"`
	Peer      string   `json:"peer"`
	PeerValue *float64 `json:"peer_value"`
	Ratio     *float64 `json:"ratio"`
	Unit      string   `json:"unit,omitempty"`
	SopP99    *float64 `json:"sop_p99,omitempty"`
	PeerP99   *float64 `json:"peer_p99,omitempty"`
	unit      string   // what one op is, for the table
}

// newResult rounds rates to whole ops/s and the ratio to three decimals. A zero rate
// means the side did not run.
func newResult(e *env, name, unit string, sop, peer float64) result {
	r := result{Suite: e.suite.name, Case: name, Peer: e.suite.peer, unit: unit}
	if sop > 0 {
		r.Sop = ptr(math.Round(sop))
	}
	if peer > 0 {
		r.PeerValue = ptr(math.Round(peer))
	}
	if sop > 0 && peer > 0 {
		r.Ratio = ptr(math.Round(sop/peer*1000) / 1000)
	}
	return r
}

func ptr(v float64) *float64 { return &v }

// runSuite runs one suite and prints its JSON lines, then its table.
func runSuite(e *env, w io.Writer) error {
	e.note("machine: %s", machine(e.dir))
	results, err := e.suite.run(e)
	if err != nil {
		return err
	}
	for _, r := range results {
		line, err := json.Marshal(r)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\n", line)
	}
	printTable(w, e, results)
	return nil
}

func printTable(w io.Writer, e *env, results []result) {
	fmt.Fprintf(w, "\nsuite %s: sop vs %s\n", e.suite.name, e.suite.peer)
	for _, n := range e.notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	// A suite with one peer names it in the column heads; one with several (engine)
	// gets a peer column, and p99 columns when a case has them.
	onePeer, p99 := true, false
	for _, r := range results {
		onePeer = onePeer && r.Peer == e.suite.peer
		p99 = p99 || r.SopP99 != nil || r.PeerP99 != nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if onePeer {
		fmt.Fprintf(tw, "case\tunit\tsop\t%s\tsop/%s\t", e.suite.peer, e.suite.peer)
	} else {
		fmt.Fprintf(tw, "case\tunit\tpeer\tsop\tpeer\tsop/peer\t")
	}
	if p99 {
		fmt.Fprintf(tw, "sop p99\tpeer p99\t")
	}
	fmt.Fprintf(tw, "\n")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t", r.Case, r.unit)
		if !onePeer {
			fmt.Fprintf(tw, "%s\t", r.Peer)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t", num(r.Sop, "%.0f"), num(r.PeerValue, "%.0f"), num(r.Ratio, "%.2f"))
		if p99 {
			fmt.Fprintf(tw, "%s\t%s\t", num(r.SopP99, "%.0f"), num(r.PeerP99, "%.0f"))
		}
		fmt.Fprintf(tw, "\n")
	}
	tw.Flush()
}

func num(v *float64, format string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf(format, *v)
}
