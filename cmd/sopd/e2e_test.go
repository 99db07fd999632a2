package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sopd/sop/faults"

	"github.com/sopd/sop/client"
)

// The end-to-end test builds sopd, runs `sopd serve` as a child process,
// drives it with the CLI and concurrent writers, kills it with SIGKILL,
// restarts it on the same data directory and checks that every
// acknowledged write is there with its seq.

// buildSopd builds the binary into a temporary directory.
func buildSopd(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the end-to-end test builds sopd with the go command: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "sopd")
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cleanEnv is the environment without SOP_ variables, plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SOP_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// daemon is one `sopd serve` child process.
type daemon struct {
	cmd  *exec.Cmd
	log  *bytes.Buffer // stderr; read only after done is closed
	done chan struct{} // closed when the process has exited
	err  error         // its exit, once done is closed
}

func startDaemon(t *testing.T, bin string, args ...string) *daemon {
	t.Helper()
	d := &daemon{log: &bytes.Buffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(bin, append([]string{"serve"}, args...)...)
	d.cmd.Env = cleanEnv()
	d.cmd.Stderr = d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.done
	})
	return d
}

// waitReady waits until the daemon answers /readyz with 200.
func (d *daemon) waitReady(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-d.done:
			t.Fatalf("sopd serve exited early (%v):\n%s", d.err, d.log)
		default:
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.cmd.Process.Kill()
	<-d.done
	t.Fatalf("sopd serve not ready within 60s:\n%s", d.log)
}

// cli runs the sopd binary as a client of one node.
type cli struct {
	bin, endpoint string
}

// run runs sopd with args (and stdin) and returns its standard output;
// the error of a failed run carries its standard error.
func (c cli) run(stdin string, args ...string) (string, error) {
	cmd := exec.Command(c.bin, args...)
	cmd.Env = cleanEnv("SOP_ENDPOINT=" + c.endpoint)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("sopd %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// must runs sopd and decodes its output into out (when not nil).
func (c cli) must(t *testing.T, out any, args ...string) string {
	t.Helper()
	s, err := c.run("", args...)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(s), out); err != nil {
			t.Fatalf("sopd %s printed %q: %v", strings.Join(args, " "), s, err)
		}
	}
	return s
}

// fails runs sopd, expects exit status 1, and returns its message.
func (c cli) fails(t *testing.T, args ...string) string {
	t.Helper()
	_, err := c.run("", args...)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("sopd %s: %v, want exit status 1", strings.Join(args, " "), err)
	}
	return err.Error()
}

// acked is an acknowledged write: the item must be there, at version seq,
// with this value.
type acked struct {
	seq   uint64
	value string
}

// ledger records acknowledged writes, and deletes that were sent but not
// acknowledged: those may or may not have landed when the server died.
type ledger struct {
	mu       sync.Mutex
	items    map[string]acked // key -> its last acknowledged write
	deleted  map[string]uint64
	inflight map[string]bool // keys whose delete was sent and not (yet) acknowledged
}

// deleting records that a delete of key is about to be sent.
func (l *ledger) deleting(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inflight == nil {
		l.inflight = map[string]bool{}
	}
	l.inflight[key] = true
}

func (l *ledger) put(key string, seq uint64, value string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items[key] = acked{seq, value}
	delete(l.deleted, key)
}

func (l *ledger) del(key string, seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.items, key)
	delete(l.inflight, key)
	l.deleted[key] = seq
}

func (l *ledger) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.items)
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs sopd: skipped with -short")
	}
	bin := buildSopd(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := faults.FreeAddr(t)
	c := cli{bin: bin, endpoint: "http://" + addr}

	// Refusals happen before anything starts.
	if msg := c.fails(t, "serve", "--data", data, "--http", "0.0.0.0:"+strings.Split(addr, ":")[1]); !strings.Contains(msg, "--auth-tokens") {
		t.Errorf("serve on 0.0.0.0 without auth: %s", msg)
	}
	if msg := c.fails(t, "serve", "--data", data, "--redis-url", "redis://"+faults.FreeAddr(t)); !strings.Contains(msg, "cannot reach Redis") {
		t.Errorf("serve with --redis-url where no Redis listens: %s", msg)
	}
	taken, err := net.Listen("tcp", faults.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	if msg := c.fails(t, "serve", "--data", data, "--http", taken.Addr().String()); !strings.Contains(msg, "choose another --http") {
		t.Errorf("serve on a taken --http address: %s", msg)
	}
	if msg := c.fails(t, "serve", "--data", data, "--http", addr, "--pprof", taken.Addr().String()); !strings.Contains(msg, "for --pprof") {
		t.Errorf("serve with a taken --pprof address: %s", msg)
	}
	if msg := c.fails(t, "status"); !strings.Contains(msg, "is sopd serve running") {
		t.Errorf("status with no server: %s", msg)
	}

	serveArgs := []string{"--data", data, "--http", addr, "--nats-listen", ""}
	d := startDaemon(t, bin, serveArgs...)
	d.waitReady(t, addr)
	l := &ledger{items: map[string]acked{}, deleted: map[string]uint64{}}
	driveCLI(t, c, l)
	writeConcurrently(t, c, d, l)

	// Restart on the same data directory after SIGKILL, this time with the
	// profiling endpoint.
	pprofAddr := faults.FreeAddr(t)
	d2 := startDaemon(t, bin, append(serveArgs, "--pprof", pprofAddr)...)
	d2.waitReady(t, addr)
	checkPprof(t, pprofAddr)
	checkLedger(t, c, l)
	events := strings.Split(strings.TrimSpace(c.must(t, nil, "watch", "--from", "1", "--count", "4")), "\n")
	if len(events) != 4 || !strings.Contains(events[0], `"seq":1,"store":"acc","op":"create_store"`) || !strings.Contains(events[2], `"key":"alice"`) {
		t.Errorf("watch --from 1 --count 4 printed %q", events)
	}

	var list struct{ Snapshots []client.Snapshot }
	if c.must(t, &list, "snapshot", "--list"); len(list.Snapshots) == 0 {
		t.Fatalf("snapshot --list after the restart: %+v", list)
	}
	if msg := c.fails(t, "restore", "--data", data, "--snapshot", list.Snapshots[0].ID); !strings.Contains(msg, "stop the sopd serve") {
		t.Errorf("restore while the node runs: %s", msg)
	}

	// A graceful stop.
	if err := d2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d2.done:
	case <-time.After(30 * time.Second):
		t.Fatal("sopd serve did not stop within 30s of SIGTERM")
	}
	if d2.err != nil || !strings.Contains(d2.log.String(), "msg=stopped") {
		t.Errorf("SIGTERM: exit %v, log:\n%s", d2.err, d2.log)
	}

	// Restore the snapshot offline; the next start replays the journal after it.
	var restored struct{ Seq uint64 }
	if c.must(t, &restored, "restore", "--data", data, "--snapshot", list.Snapshots[0].ID); restored.Seq != list.Snapshots[0].Seq {
		t.Errorf("restore printed seq %d, want %d", restored.Seq, list.Snapshots[0].Seq)
	}
	d3 := startDaemon(t, bin, serveArgs...)
	d3.waitReady(t, addr)
	checkLedger(t, c, l)
}

// driveCLI runs each client command once and records its writes.
// checkPprof checks that --pprof serves net/http/pprof: the process's
// command line, and a heap profile.
func checkPprof(t *testing.T, addr string) {
	t.Helper()
	for path, want := range map[string]string{"/debug/pprof/cmdline": "serve", "/debug/pprof/heap?debug=1": "heap profile"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("--pprof %s: GET %s: %v", addr, path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("--pprof: GET %s: %s, want 200 with %q:\n%.300s", path, resp.Status, want, body)
		}
	}
}

func driveCLI(t *testing.T, c cli, l *ledger) {
	var created struct {
		Name    string `json:"name"`
		Created bool   `json:"created"`
	}
	if c.must(t, &created, "store", "create", "acc"); !created.Created {
		t.Errorf("store create acc: %+v", created)
	}
	c.must(t, nil, "store", "create", "people", "--index", "last,age:desc")

	var w struct {
		Seq uint64          `json:"seq"`
		Key json.RawMessage `json:"key"`
	}
	c.must(t, &w, "put", "acc", "alice", `{"balance":100}`)
	l.put("alice", w.Seq, `{"balance":100}`)
	var it struct {
		Key     string          `json:"key"`
		Value   json.RawMessage `json:"value"`
		Version uint64          `json:"version"`
	}
	if c.must(t, &it, "get", "acc", "alice", "--min-seq", fmt.Sprint(w.Seq)); it.Key != "alice" || string(it.Value) != `{"balance":100}` || it.Version != w.Seq {
		t.Errorf("get alice = %+v, want version %d", it, w.Seq)
	}
	aliceV := w.Seq
	c.must(t, &w, "put", "acc", "a/b c", "hello", "--string")
	l.put("a/b c", w.Seq, `"hello"`)
	if msg := c.fails(t, "put", "acc", "alice", `{"balance":1}`, "--if-version", fmt.Sprint(aliceV+1000)); !strings.Contains(msg, "condition_failed") {
		t.Errorf("put with a wrong --if-version: %s", msg)
	}
	if msg := c.fails(t, "put", "acc", "x", "not json"); !strings.Contains(msg, "--string") {
		t.Errorf("put of a value that is not JSON: %s", msg)
	}
	c.must(t, &w, "put", "people", "--doc", `{"last":"Smith","age":42}`)
	if string(w.Key) != `["Smith",42]` {
		t.Errorf("put --doc: key %s", w.Key)
	}
	c.must(t, nil, "get", "people", `["Smith",42]`, "--linearizable")

	txn := fmt.Sprintf(`{"compare":[{"store":"acc","key":"alice","version":%d}],
		"success":[{"op":"put","store":"acc","key":"alice","value":{"balance":90}},{"op":"put","store":"acc","key":"bob","value":{"balance":10}}],
		"failure":[]}`, aliceV)
	out, err := c.run(txn, "txn")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Succeeded bool   `json:"succeeded"`
		Seq       uint64 `json:"seq"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.Succeeded {
		t.Fatalf("txn printed %q (%v), want success", out, err)
	}
	l.put("alice", res.Seq, `{"balance":90}`)
	l.put("bob", res.Seq, `{"balance":10}`)
	file := filepath.Join(t.TempDir(), "txn.json")
	if err := os.WriteFile(file, []byte(txn), 0o600); err != nil {
		t.Fatal(err)
	}
	if c.must(t, &res, "txn", "--file", file); res.Succeeded {
		t.Errorf("the same txn again succeeded; its compare is stale")
	}

	c.must(t, &w, "del", "acc", "a/b c")
	l.del("a/b c", w.Seq)
	if msg := c.fails(t, "get", "acc", "a/b c"); !strings.Contains(msg, "key_not_found") {
		t.Errorf("get of a deleted item: %s", msg)
	}
	if got := c.must(t, nil, "scan", "acc", "--prefix", "b"); !strings.Contains(got, `"key":"bob"`) || strings.Count(got, "\n") != 1 {
		t.Errorf("scan --prefix b printed %q", got)
	}
	var st client.Status
	c.must(t, &st, "status")
	if len(st.Domains) != 1 || st.Domains[0].Name != "default" || st.Domains[0].JournalLastSeq < w.Seq {
		t.Errorf("status = %+v", st)
	}
	var snap client.Snapshot
	if c.must(t, &snap, "snapshot"); snap.Seq < w.Seq || snap.ID == "" {
		t.Errorf("snapshot printed %+v, want one at seq %d or later", snap, w.Seq)
	}
	if v := c.must(t, nil, "version"); !strings.Contains(v, `"server"`) {
		t.Errorf("version printed %q, want the server's too", v)
	}
}

// writeConcurrently runs CLI and Go client writers, SIGKILLs the server
// while they write, and records what was acknowledged.
func writeConcurrently(t *testing.T, c cli, d *daemon, l *ledger) {
	gc, err := client.New(c.endpoint, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var cliAcks atomic.Int64
	const goWriters, cliWriters = 4, 2
	for g := range goWriters {
		wg.Go(func() {
			for i := 0; ; i++ {
				key, value := fmt.Sprintf("go/%d/%05d", g, i), fmt.Sprintf(`{"w":%d,"i":%d}`, g, i)
				seq, err := gc.Put(ctx, "default", "acc", client.StringKey(key), json.RawMessage(value))
				if err != nil {
					return // the server is gone
				}
				l.put(key, seq, value)
				if i%10 == 9 { // and delete some of what was written
					dk := fmt.Sprintf("go/%d/%05d", g, i-5)
					l.deleting(dk)
					if seq, err = gc.Delete(ctx, "default", "acc", client.StringKey(dk)); err != nil {
						return
					}
					l.del(dk, seq)
				}
			}
		})
	}
	for g := range cliWriters {
		wg.Go(func() {
			for i := 0; ; i++ {
				key, value := fmt.Sprintf("cli/%d/%03d", g, i), fmt.Sprintf(`[%d,%d,"x"]`, g, i)
				out, err := c.run("", "put", "acc", key, value)
				if err != nil {
					return
				}
				var w struct{ Seq uint64 }
				if err := json.Unmarshal([]byte(out), &w); err != nil || w.Seq == 0 {
					t.Errorf("put printed %q", out)
					return
				}
				l.put(key, w.Seq, value)
				cliAcks.Add(1)
			}
		})
	}
	for l.size() < 600 || cliAcks.Load() < 10 {
		if ctx.Err() != nil {
			t.Fatalf("writers stalled at %d acknowledged writes", l.size())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.done
	wg.Wait()
	t.Logf("%d items acknowledged (%d by the CLI) when the server was killed", l.size(), cliAcks.Load())
}

// checkLedger checks every acknowledged write through the CLI.
func checkLedger(t *testing.T, c cli, l *ledger) {
	out := c.must(t, nil, "scan", "acc", "--all")
	found := map[string]acked{}
	for line := range strings.Lines(out) {
		var it struct {
			Key     string          `json:"key"`
			Value   json.RawMessage `json:"value"`
			Version uint64          `json:"version"`
		}
		if err := json.Unmarshal([]byte(line), &it); err != nil {
			t.Fatalf("scan printed %q: %v", line, err)
		}
		found[it.Key] = acked{it.Version, string(it.Value)}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var maxSeq uint64
	missing := 0
	for key, want := range l.items {
		maxSeq = max(maxSeq, want.seq)
		if got, ok := found[key]; !ok && l.inflight[key] {
			continue // its unacknowledged delete landed
		} else if !ok || got != want {
			if missing++; missing <= 10 {
				t.Errorf("acknowledged %q = %s at seq %d; after the restart: %s at %d (present %t)", key, want.value, want.seq, got.value, got.seq, ok)
			}
		}
	}
	for key, seq := range l.deleted {
		maxSeq = max(maxSeq, seq)
		if got, ok := found[key]; ok { // keys are written once: no later put can bring one back
			t.Errorf("%q deleted at seq %d is back at version %d", key, seq, got.seq)
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged writes lost or changed", missing, len(l.items))
	}
	// Spot checks through get, and the journal's bounds through status.
	n := 0
	for key, want := range l.items {
		if l.inflight[key] {
			continue // may be gone (see above)
		}
		if n++; n > 15 {
			break
		}
		var it struct {
			Value   json.RawMessage `json:"value"`
			Version uint64          `json:"version"`
		}
		if c.must(t, &it, "get", "acc", key); it.Version != want.seq || string(it.Value) != want.value {
			t.Errorf("get %q = %s at %d, want %s at %d", key, it.Value, it.Version, want.value, want.seq)
		}
	}
	var st client.Status
	c.must(t, &st, "status")
	if d := st.Domains[0]; d.JournalLastSeq < maxSeq || d.AppliedSeq != d.JournalLastSeq {
		t.Errorf("status after the restart = %+v; acknowledged seqs reach %d", d, maxSeq)
	}
}
