package sop_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sopd/sop"
	"github.com/sopd/sop/internal/testseed"
)

// TestCrashKill9 runs a writer in a child process, kills it with SIGKILL at
// a random moment (during commits, group appends, checkpoints, or its own
// start), reopens the data dir and checks that every acknowledged commit is
// there, that no commit is half-applied and that the B-tree is sound; then
// starts the writer again on the same dir.
//
// The child announces each commit before it submits it ("TRY id ops") and
// acknowledges it after Update returns ("ACK id seq"). Every value names
// the commit that wrote it, and each key is written by one worker only, so
// the parent knows, for every key, the exact order of the commits that may
// have touched it. A commit is durable when it was acknowledged or when one
// of its values is found; the state of each key must then be the effect of
// the last durable commit that touched it, or (only for an absent key) of a
// later delete that was not acknowledged.
func TestCrashKill9(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	h := newCrashHistory()
	var early, inFlight2 int
	start := time.Now()
	for run := range crashCycles {
		// Most kills land while the writers commit; some while the child
		// opens (replaying the journal) or creates its store.
		c := crashChild{dir: dir, run: run, seed: seed, waitReady: run%6 != 5}
		if c.waitReady {
			c.delay = time.Duration(50+rng.IntN(351)) * time.Millisecond
		} else {
			c.delay = time.Duration(rng.IntN(60)) * time.Millisecond
			early++
		}
		lines := c.execute(t)
		if err := h.add(run, lines); err != nil {
			t.Fatalf("run %d: child output: %v", run, err)
		}
		if n := h.inFlight(run); n >= 2 {
			inFlight2++
		}
		if err := h.check(context.Background(), dir, run); err != nil {
			t.Fatalf("run %d (killed %v after start, ready %v): %v", run, c.delay, c.waitReady, err)
		}
	}
	if inFlight2 == 0 {
		t.Errorf("no kill landed with two or more commits in flight: the test no longer crashes group appends")
	}
	if h.acked == 0 {
		t.Fatalf("no commit was acknowledged in %d runs", crashCycles)
	}
	t.Logf("%d kills (%d early), %d commits tried, %d acked, %d found durable though unacked, %d kills with >= 2 commits in flight, max acked seq %d, applied seq %d, %v",
		crashCycles, early, len(h.commits), h.acked, len(h.durable)-h.acked, inFlight2, h.maxSeq, h.applied, time.Since(start).Round(time.Millisecond))
}

const (
	crashCycles     = 24
	crashWorkers    = 8
	crashSingles    = 32        // single keys per worker
	crashLarge      = 100 << 10 // bytes of a large value
	crashStore      = "crash"
	crashChildLimit = 30 * time.Second // a child never killed exits on its own

	crashDirEnv  = "SOP_CRASH_CHILD_DIR"
	crashRunEnv  = "SOP_CRASH_CHILD_RUN"
	crashSeedEnv = "SOP_CRASH_CHILD_SEED"
)

// crashGroups are the sizes of each worker's key groups: a group is always
// written, or deleted, as a whole by one commit.
var crashGroups = []int{2, 5, 9, 13, 17, 20}

// TestCrashKill9Child is TestCrashKill9's writer; it runs only in a child
// process and writes until it is killed.
func TestCrashKill9Child(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestCrashKill9")
	}
	run, err1 := strconv.Atoi(os.Getenv(crashRunEnv))
	seed, err2 := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("child environment: %v", err)
	}
	ctx := context.Background()
	db, err := sop.Open(ctx, sop.Options{Dir: dir, CheckpointEntries: 50, CheckpointInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if _, err := db.CreateStore(ctx, sop.DefaultDomain, crashStore, nil); err != nil {
		t.Fatalf("create store: %v", err)
	}
	out := &crashOut{}
	out.line("READY")
	errc := make(chan error, crashWorkers)
	for w := range crashWorkers {
		rng := rand.New(rand.NewPCG(seed, uint64(1+run*crashWorkers+w)))
		go func() { errc <- crashWriter(ctx, db, out, rng, run, w) }()
	}
	select {
	case err := <-errc:
		out.line("ERR " + strings.ReplaceAll(err.Error(), "\n", " "))
		t.Fatal(err)
	case <-time.After(crashChildLimit):
		t.Fatalf("not killed within %v", crashChildLimit)
	}
}

// crashOut writes whole protocol lines to stdout, one write each, so a
// line is never interleaved with another (a pipe write of up to PIPE_BUF
// bytes is atomic).
type crashOut struct{ mu sync.Mutex }

func (o *crashOut) line(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	os.Stdout.WriteString(s + "\n")
}

// crashWriter commits random transactions on worker w's keys until one
// fails.
func crashWriter(ctx context.Context, db *sop.DB, out *crashOut, rng *rand.Rand, run, w int) error {
	for n := 0; ; n++ {
		id := fmt.Sprintf("%d.%d.%d", run, w, n)
		ops := pickCrashOps(rng)
		writes := crashWrites(w, ops)
		out.line("TRY " + id + " " + formatCrashOps(ops))
		seq, err := db.Update(ctx, sop.DefaultDomain, func(tx *sop.Tx) error {
			for _, wr := range writes {
				var err error
				if wr.del {
					err = tx.Delete(crashStore, []byte(wr.key))
				} else {
					err = tx.Put(crashStore, []byte(wr.key), crashValue(id, wr.key, wr.large))
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("commit %s: %w", id, err)
		}
		out.line(fmt.Sprintf("ACK %s %d", id, seq))
	}
}

// crashOp is one operation of a child's commit. Kinds: 'p' put a small
// value to a single key, 'P' a large one, 'd' delete a single key, 'g'
// put small values to every key of a group, 'G' the same with a large
// value for the group's first key, 'x' delete every key of a group.
type crashOp struct {
	kind byte
	idx  int
}

// pickCrashOps returns one commit: a delete of one single key or of one
// group, or puts to up to four single keys and at most one group. Commits
// that delete do nothing else, so a commit that stored values can always
// be recognised by them.
func pickCrashOps(rng *rand.Rand) []crashOp {
	switch r := rng.IntN(20); {
	case r < 3:
		return []crashOp{{'d', rng.IntN(crashSingles)}}
	case r < 4:
		return []crashOp{{'x', rng.IntN(len(crashGroups))}}
	}
	var ops []crashOp
	if rng.IntN(2) == 0 {
		kind := byte('g')
		if rng.IntN(5) == 0 {
			kind = 'G'
		}
		ops = append(ops, crashOp{kind, rng.IntN(len(crashGroups))})
	}
	used := map[int]bool{}
	for n := rng.IntN(4) + 1 - len(ops); n > 0; n-- {
		i := rng.IntN(crashSingles)
		if used[i] {
			continue
		}
		used[i] = true
		kind := byte('p')
		if rng.IntN(12) == 0 {
			kind = 'P'
		}
		ops = append(ops, crashOp{kind, i})
	}
	return ops
}

func formatCrashOps(ops []crashOp) string {
	parts := make([]string, len(ops))
	for i, op := range ops {
		parts[i] = fmt.Sprintf("%c%d", op.kind, op.idx)
	}
	return strings.Join(parts, " ")
}

func parseCrashOps(fields []string) ([]crashOp, error) {
	ops := make([]crashOp, 0, len(fields))
	for _, f := range fields {
		if len(f) < 2 || !strings.ContainsRune("pPdgGx", rune(f[0])) {
			return nil, fmt.Errorf("bad op %q", f)
		}
		i, err := strconv.Atoi(f[1:])
		limit := crashSingles
		if strings.ContainsRune("gGx", rune(f[0])) {
			limit = len(crashGroups)
		}
		if err != nil || i < 0 || i >= limit {
			return nil, fmt.Errorf("bad op %q", f)
		}
		ops = append(ops, crashOp{f[0], i})
	}
	return ops, nil
}

// crashWrite is one key a commit writes.
type crashWrite struct {
	key   string
	del   bool
	large bool
}

func crashSingleKey(w, i int) string   { return fmt.Sprintf("w%d/s%02d", w, i) }
func crashGroupKey(w, g, m int) string { return fmt.Sprintf("w%d/g%d/%02d", w, g, m) }

// crashWrites lists the keys worker w's commit of ops writes.
func crashWrites(w int, ops []crashOp) []crashWrite {
	var out []crashWrite
	for _, op := range ops {
		switch op.kind {
		case 'p', 'P', 'd':
			out = append(out, crashWrite{key: crashSingleKey(w, op.idx), del: op.kind == 'd', large: op.kind == 'P'})
		default:
			for m := range crashGroups[op.idx] {
				out = append(out, crashWrite{key: crashGroupKey(w, op.idx, m), del: op.kind == 'x', large: op.kind == 'G' && m == 0})
			}
		}
	}
	return out
}

// crashValue is the value commit id writes to key: "id|key|", filled up
// to crashLarge bytes by repeating that header when large.
func crashValue(id, key string, large bool) []byte {
	v := []byte(id + "|" + key + "|")
	if !large {
		return v
	}
	head := len(v)
	for len(v) < crashLarge {
		v = append(v, v[:min(head, crashLarge-len(v))]...)
	}
	return v
}

// crashChild is one run of the child writer.
type crashChild struct {
	dir       string
	run       int
	seed      uint64
	waitReady bool          // count delay from the child's READY, not its start
	delay     time.Duration // how long the child runs before SIGKILL
}

// execute starts the child, kills it and returns every complete line it wrote.
func (c crashChild) execute(t *testing.T) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKill9Child$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		crashDirEnv+"="+c.dir, crashRunEnv+"="+strconv.Itoa(c.run), crashSeedEnv+"="+strconv.FormatUint(c.seed, 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	ready, done := make(chan struct{}), make(chan struct{})
	var lines []string
	go func() {
		defer close(done)
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return // a last line without its newline was cut by the kill
			}
			line = strings.TrimSuffix(line, "\n")
			if line == "READY" {
				close(ready)
			}
			lines = append(lines, line)
		}
	}()
	timedOut := false
	if c.waitReady {
		select {
		case <-ready:
		case <-done: // it ended by itself: reported below
		case <-time.After(crashChildLimit):
			timedOut = true
		}
	}
	if !timedOut {
		time.Sleep(c.delay)
	}
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	<-done
	err = cmd.Wait()
	if timedOut {
		t.Fatalf("run %d: child not ready within %v\nstdout:\n%s\nstderr:\n%s", c.run, crashChildLimit, strings.Join(lines, "\n"), stderr.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("run %d: child was not killed but ended by itself (%v)\nstdout:\n%s\nstderr:\n%s", c.run, err, strings.Join(lines, "\n"), stderr.String())
	}
	return lines
}

// crashCommit is one commit a child tried.
type crashCommit struct {
	id     string
	run    int
	worker int
	writes []crashWrite
	seq    uint64 // 0 when it was not acknowledged
}

func (c *crashCommit) writesKey(key string) (crashWrite, bool) {
	for _, w := range c.writes {
		if w.key == key {
			return w, true
		}
	}
	return crashWrite{}, false
}

// crashHistory is everything the children tried and acknowledged.
type crashHistory struct {
	commits  map[string]*crashCommit
	byWorker [crashWorkers][]*crashCommit // in the order the worker committed them
	byKey    map[string][]*crashCommit    // in commit order (each key has one worker)
	runMin   []uint64                     // per run, its lowest and highest acked seq (0: none)
	runMax   []uint64
	lastAck  [crashWorkers]uint64 // per worker, its last acked seq

	// durable holds the acked commits and the unacked ones found to be
	// durable.
	durable map[*crashCommit]bool
	acked   int
	maxSeq  uint64
	applied uint64 // the domain's applied seq at the last check
}

func newCrashHistory() *crashHistory {
	return &crashHistory{commits: map[string]*crashCommit{}, byKey: map[string][]*crashCommit{}, durable: map[*crashCommit]bool{}}
}

// add records run's child output.
func (h *crashHistory) add(run int, lines []string) error {
	var lo, hi uint64
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "TRY":
			if err := h.try(run, f[1:]); err != nil {
				return fmt.Errorf("%q: %w", line, err)
			}
		case "ACK":
			seq, err := h.ack(f[1:])
			if err != nil {
				return fmt.Errorf("%q: %w", line, err)
			}
			if lo == 0 || seq < lo {
				lo = seq
			}
			hi = max(hi, seq)
		case "ERR":
			return fmt.Errorf("child failed: %s", line)
		}
	}
	if lo != 0 && lo <= h.maxSeq {
		return fmt.Errorf("run %d acked seq %d, not above the %d acked before", run, lo, h.maxSeq)
	}
	h.runMin, h.runMax = append(h.runMin, lo), append(h.runMax, hi)
	h.maxSeq = max(h.maxSeq, hi)
	return nil
}

func (h *crashHistory) try(run int, f []string) error {
	if len(f) < 2 {
		return errors.New("short TRY line")
	}
	var r, w, n int
	if _, err := fmt.Sscanf(f[0], "%d.%d.%d", &r, &w, &n); err != nil || r != run || w < 0 || w >= crashWorkers {
		return fmt.Errorf("bad commit id %q", f[0])
	}
	ops, err := parseCrashOps(f[1:])
	if err != nil {
		return err
	}
	if _, dup := h.commits[f[0]]; dup {
		return fmt.Errorf("commit %s tried twice", f[0])
	}
	c := &crashCommit{id: f[0], run: r, worker: w, writes: crashWrites(w, ops)}
	h.commits[c.id] = c
	h.byWorker[w] = append(h.byWorker[w], c)
	for _, wr := range c.writes {
		h.byKey[wr.key] = append(h.byKey[wr.key], c)
	}
	return nil
}

func (h *crashHistory) ack(f []string) (uint64, error) {
	if len(f) != 2 {
		return 0, errors.New("bad ACK line")
	}
	c, ok := h.commits[f[0]]
	if !ok || c.seq != 0 {
		return 0, fmt.Errorf("ack of commit %q not tried, or acked twice", f[0])
	}
	seq, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil || seq == 0 {
		return 0, fmt.Errorf("bad seq %q", f[1])
	}
	// A worker commits one transaction at a time, so its seqs ascend.
	if seq <= h.lastAck[c.worker] {
		return 0, fmt.Errorf("worker %d got seq %d after seq %d", c.worker, seq, h.lastAck[c.worker])
	}
	h.lastAck[c.worker] = seq
	c.seq = seq
	h.durable[c] = true
	h.acked++
	return seq, nil
}

// inFlight counts run's commits that were tried but not acknowledged.
func (h *crashHistory) inFlight(run int) int {
	n := 0
	for _, cs := range h.byWorker {
		for _, c := range cs {
			if c.run == run && c.seq == 0 {
				n++
			}
		}
	}
	return n
}

// crashItem is a stored item, with the commit its value names.
type crashItem struct {
	commit  *crashCommit
	version uint64
}

// check reopens dir and compares what it holds with the history.
func (h *crashHistory) check(ctx context.Context, dir string, run int) error {
	db, err := sop.Open(ctx, sop.Options{Dir: dir})
	if err != nil {
		return fmt.Errorf("reopen after kill: %w", err)
	}
	err = h.checkDB(db, run)
	return errors.Join(err, db.Close())
}

func (h *crashHistory) checkDB(db *sop.DB, run int) error {
	if err := db.Check(sop.DefaultDomain); err != nil {
		return err
	}
	applied, err := db.Applied(sop.DefaultDomain)
	if err != nil {
		return err
	}
	if applied < h.maxSeq {
		return fmt.Errorf("applied seq %d is below the highest acked seq %d", applied, h.maxSeq)
	}
	h.applied = applied
	items, err := h.load(db)
	if err != nil {
		return err
	}
	if err := h.checkItems(run, items); err != nil {
		return err
	}
	for key := range h.byKey {
		if err := h.checkKey(run, key, items[key]); err != nil {
			return err
		}
	}
	return h.checkGroups(items)
}

// load reads every item of the crash store and the commit its value
// names.
func (h *crashHistory) load(db *sop.DB) (map[string]crashItem, error) {
	stores, _, err := db.Stores(sop.DefaultDomain)
	if err != nil {
		return nil, err
	}
	var count uint64
	found := false
	for _, s := range stores {
		if s.Name == crashStore {
			found, count = true, s.Count
		}
	}
	items := map[string]crashItem{}
	if !found {
		if h.acked > 0 {
			return nil, fmt.Errorf("store %q is missing after %d acked commits", crashStore, h.acked)
		}
		return items, nil
	}
	err = db.View(context.Background(), sop.DefaultDomain, func(tx *sop.Tx) error {
		for it, err := range tx.Scan(crashStore, sop.Range{}) {
			if err != nil {
				return err
			}
			key := string(it.Key)
			id, _, _ := strings.Cut(string(it.Value), "|")
			c := h.commits[id]
			if c == nil {
				return fmt.Errorf("key %s holds a value of commit %q, which no child tried", key, id)
			}
			wr, ok := c.writesKey(key)
			if !ok || wr.del {
				return fmt.Errorf("key %s holds a value of commit %s, which did not put it", key, id)
			}
			if !bytes.Equal(it.Value, crashValue(id, key, wr.large)) {
				return fmt.Errorf("key %s: value of %d bytes is not the one commit %s wrote (%d bytes)", key, len(it.Value), id, len(crashValue(id, key, wr.large)))
			}
			items[key] = crashItem{commit: c, version: it.Version}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if uint64(len(items)) != count {
		return nil, fmt.Errorf("store %q lists %d items, a scan finds %d", crashStore, count, len(items))
	}
	return items, nil
}

// checkItems checks each item's version against its commit, and adds the
// commits found in values to the durable ones. A run's unacked commits are
// settled by the check after it: each was the last of its worker, so a
// put of it is visible exactly when it is durable. One of an earlier run
// that turns up now came back from the dead.
func (h *crashHistory) checkItems(run int, items map[string]crashItem) error {
	version := map[*crashCommit]uint64{}
	byVersion := map[uint64]*crashCommit{}
	for key, it := range items {
		c := it.commit
		if v, ok := version[c]; ok && v != it.version {
			return fmt.Errorf("commit %s is torn: key %s has version %d, another of its keys %d", c.id, key, it.version, v)
		}
		if o, ok := byVersion[it.version]; ok && o != c {
			return fmt.Errorf("commits %s and %s both have version %d", c.id, o.id, it.version)
		}
		version[c], byVersion[it.version] = it.version, c
		if c.seq != 0 {
			if it.version != c.seq {
				return fmt.Errorf("key %s: version %d, but commit %s that wrote its value was acked at seq %d", key, it.version, c.id, c.seq)
			}
			continue
		}
		if lo, hi := h.seqBounds(c); it.version <= lo || hi != 0 && it.version >= hi {
			return fmt.Errorf("key %s: version %d of unacked commit %s is not between the acked seqs %d and %d around it", key, it.version, c.id, lo, hi)
		}
		if !h.durable[c] && c.run < run {
			return fmt.Errorf("key %s holds commit %s's value, which was not there after run %d", key, c.id, c.run)
		}
		h.durable[c] = true
	}
	return nil
}

// seqBounds returns the acked seqs an unacked commit's seq must lie
// between: its worker's acked commits before and after it, and the runs
// before and after its own (hi 0: no bound).
func (h *crashHistory) seqBounds(c *crashCommit) (lo, hi uint64) {
	after := false
	for _, o := range h.byWorker[c.worker] {
		switch {
		case o == c:
			after = true
		case o.seq == 0:
		case !after:
			lo = o.seq
		case hi == 0:
			hi = o.seq
		}
	}
	for r := range h.runMax {
		switch {
		case r < c.run:
			lo = max(lo, h.runMax[r])
		case r > c.run && h.runMin[r] != 0 && (hi == 0 || h.runMin[r] < hi):
			hi = h.runMin[r]
		}
	}
	return lo, hi
}

// checkKey checks that key holds the effect of the last durable commit
// that wrote it or, when absent, of a later delete of this run that was
// not acked, which makes that delete durable. (A commit that deletes does
// nothing else, so a delete is the only commit a value cannot show.)
func (h *crashHistory) checkKey(run int, key string, it crashItem) error {
	cs := h.byKey[key]
	last := -1
	for i, c := range cs {
		if h.durable[c] {
			last = i
		}
	}
	if last < 0 {
		if it.commit != nil {
			return fmt.Errorf("key %s holds commit %s's value, but no durable commit wrote it", key, it.commit.id)
		}
		return nil
	}
	c := cs[last]
	wr, _ := c.writesKey(key)
	switch {
	case it.commit == c:
		return nil
	case it.commit != nil:
		return fmt.Errorf("key %s holds commit %s's value, but durable commit %s (seq %d) wrote it later: a lost or half-applied commit", key, it.commit.id, c.id, c.seq)
	case wr.del:
		return nil
	}
	for _, later := range cs[last+1:] {
		if w, _ := later.writesKey(key); w.del && later.run == run {
			h.durable[later] = true
			return nil
		}
	}
	return fmt.Errorf("key %s is missing, but durable commit %s (seq %d) put it and no later commit deleted it", key, c.id, c.seq)
}

// checkGroups checks that every group's keys are in one state: all absent
// or all from the same commit, so no group put or delete was half-applied.
func (h *crashHistory) checkGroups(items map[string]crashItem) error {
	for w := range crashWorkers {
		for g, size := range crashGroups {
			first := items[crashGroupKey(w, g, 0)]
			for m := 1; m < size; m++ {
				key := crashGroupKey(w, g, m)
				if it := items[key]; it != first {
					return fmt.Errorf("group %d of worker %d is half-applied: key %s holds %s, key %s holds %s",
						g, w, crashGroupKey(w, g, 0), first.describe(), key, it.describe())
				}
			}
		}
	}
	return nil
}

func (it crashItem) describe() string {
	if it.commit == nil {
		return "nothing"
	}
	return fmt.Sprintf("commit %s's value at version %d", it.commit.id, it.version)
}
