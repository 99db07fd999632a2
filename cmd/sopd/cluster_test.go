package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sopd/sop/client"
	"github.com/sopd/sop/journal"
)

// startRedis runs a redis-server without persistence on a free loopback
// port for t. It skips t when the binary is missing, unless
// SOP_REQUIRE_REDIS is set (CI sets it).
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("SOP_REQUIRE_REDIS") != "" {
			t.Fatalf("redis-server not found and SOP_REQUIRE_REDIS is set: %v", err)
		}
		t.Skip("redis-server not found on PATH: install it (scripts/test-deps.sh does) to run the cluster test")
	}
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", filepath.Join(dir, "redis.log"), "--daemonize", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not listen on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterFailover: two sopd nodes share a NATS server and a Redis;
// the lease holder leads, the other forwards writes to it.
// After kill -9 of the leader the other takes over within a few lease
// times, and no acknowledged write is lost; the old leader, restarted,
// follows and converges to the same state hash.
func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes; skipped with -short")
	}
	redis := startRedis(t)
	srv, err := journal.StartServer(journal.ServerOptions{Dir: t.TempDir(), Listen: freeAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	bin := buildSopd(t)
	type node struct {
		d    *daemon
		addr string
		data string
		c    *client.Client
	}
	start := func(n *node) {
		n.d = startDaemon(t, bin, "--data", n.data, "--http", n.addr, "--nats-url", srv.ClientURL(),
			"--redis-url", "redis://"+redis, "--lease-ttl", "600ms", "--cluster-name", "t")
		n.d.waitReady(t, n.addr)
	}
	nodes := make([]*node, 2)
	for i := range nodes {
		n := &node{addr: freeAddr(t), data: filepath.Join(t.TempDir(), "data")}
		c, err := client.New("http://"+n.addr, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		n.c = c
		start(n)
		nodes[i] = n
	}
	ctx := context.Background()
	role := func(n *node) string {
		st, err := n.c.Status(ctx)
		if err != nil {
			return "down"
		}
		return st.Domains[0].Role
	}
	var leader, follower *node
	waitUntil(t, "one leader", func() bool {
		r0, r1 := role(nodes[0]), role(nodes[1])
		switch {
		case r0 == "leader" && r1 == "follower":
			leader, follower = nodes[0], nodes[1]
		case r1 == "leader" && r0 == "follower":
			leader, follower = nodes[1], nodes[0]
		default:
			return false
		}
		return true
	})
	waitUntil(t, "each node to list both in /v1/status members", func() bool {
		for _, n := range nodes {
			st, err := n.c.Status(ctx)
			if err != nil || len(st.Members) != 2 {
				return false
			}
			for _, m := range st.Members {
				if m.Advertise != "http://"+nodes[0].addr && m.Advertise != "http://"+nodes[1].addr {
					return false
				}
			}
		}
		return true
	})
	if _, err := leader.c.CreateStore(ctx, "default", "s", nil); err != nil {
		t.Fatal(err)
	}
	acked := map[string]uint64{}
	for i := range 30 {
		key := fmt.Sprintf("k%02d", i)
		seq, err := leader.c.Put(ctx, "default", "s", client.StringKey(key), json.RawMessage(`1`))
		if err != nil {
			t.Fatal(err)
		}
		acked[key] = seq
	}
	// A write on the follower is forwarded to the leader, and readable on
	// the follower at once.
	fseq, err := follower.c.Put(ctx, "default", "s", client.StringKey("via-follower"), json.RawMessage(`3`))
	if err != nil {
		t.Fatalf("write on the follower: %v", err)
	}
	acked["via-follower"] = fseq
	if it, err := follower.c.Get(ctx, "default", "s", client.StringKey("via-follower")); err != nil || it.Version != fseq {
		t.Fatalf("the follower reads its forwarded write: %+v, %v", it, err)
	}

	leader.d.cmd.Process.Kill()
	<-leader.d.done
	killed := time.Now()
	waitUntil(t, "the follower to lead", func() bool { return role(follower) == "leader" })
	t.Logf("new leader %v after the kill", time.Since(killed).Round(time.Millisecond))
	seq, err := follower.c.Put(ctx, "default", "s", client.StringKey("after"), json.RawMessage(`2`))
	if err != nil {
		t.Fatal(err)
	}
	acked["after"] = seq
	for key, want := range acked {
		it, err := follower.c.Get(ctx, "default", "s", client.StringKey(key))
		if err != nil || it.Version != want {
			t.Fatalf("acknowledged %s at seq %d: %+v, %v", key, want, it, err)
		}
	}
	start(leader) // the old leader comes back as a follower
	if r := role(leader); r != "follower" {
		t.Fatalf("the restarted old leader is %s", r)
	}
	waitUntil(t, "equal state hashes", func() bool {
		s1, h1, err1 := follower.c.Hash(ctx, "default")
		s2, h2, err2 := leader.c.Hash(ctx, "default")
		return err1 == nil && err2 == nil && s1 == s2 && string(h1) == string(h2)
	})
}

// waitUntil polls cond for up to 30 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterPausedLeader: the leader is stopped (SIGSTOP) past its lease
// while writers keep sending to it; the other node takes over and commits.
// When the old leader continues (SIGCONT) nothing it appends on its stale
// position lands: the journal's fence refuses it. Every write either node
// acknowledged is there, and both nodes end with one state hash.
func TestClusterPausedLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes; skipped with -short")
	}
	redis := startRedis(t)
	srv, err := journal.StartServer(journal.ServerOptions{Dir: t.TempDir(), Listen: freeAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	bin := buildSopd(t)
	ctx := context.Background()
	type node struct {
		d    *daemon
		addr string
		c    *client.Client
	}
	nodes := make([]*node, 2)
	for i := range nodes {
		n := &node{addr: freeAddr(t)}
		n.d = startDaemon(t, bin, "--data", filepath.Join(t.TempDir(), "data"), "--http", n.addr, "--nats-url", srv.ClientURL(),
			"--redis-url", "redis://"+redis, "--lease-ttl", "600ms", "--cluster-name", "p", "--log-level", "debug")
		n.d.waitReady(t, n.addr)
		if n.c, err = client.New("http://"+n.addr, client.Options{}); err != nil {
			t.Fatal(err)
		}
		nodes[i] = n
	}
	role := func(n *node) string {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		st, err := n.c.Status(cctx)
		if err != nil {
			return "down"
		}
		return st.Domains[0].Role
	}
	var old, next *node
	waitUntil(t, "one leader", func() bool {
		switch {
		case role(nodes[0]) == "leader" && role(nodes[1]) == "follower":
			old, next = nodes[0], nodes[1]
		case role(nodes[1]) == "leader" && role(nodes[0]) == "follower":
			old, next = nodes[1], nodes[0]
		default:
			return false
		}
		return true
	})
	if _, err := old.c.CreateStore(ctx, "default", "s", nil); err != nil {
		t.Fatal(err)
	}
	if err := old.d.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Writes sent to the paused leader wait in its socket meanwhile.
	type ack struct {
		key string
		seq uint64
		err error
	}
	acks := make(chan ack, 16)
	for i := range 8 {
		go func() {
			key := fmt.Sprintf("old-%d", i)
			wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			seq, err := old.c.Put(wctx, "default", "s", client.StringKey(key), json.RawMessage(`1`))
			acks <- ack{key, seq, err}
		}()
	}
	waitUntil(t, "the other node to lead", func() bool { return role(next) == "leader" })
	acked := map[string]uint64{}
	for i := range 20 {
		key := fmt.Sprintf("new-%d", i)
		seq, err := next.c.Put(ctx, "default", "s", client.StringKey(key), json.RawMessage(`2`))
		if err != nil {
			t.Fatal(err)
		}
		acked[key] = seq
	}
	if err := old.d.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		a := <-acks
		if a.err == nil {
			acked[a.key] = a.seq // committed by whoever led when it was taken
		}
	}
	waitUntil(t, "the old leader to follow", func() bool { return role(old) == "follower" })
	for key, want := range acked {
		for _, n := range []*node{old, next} {
			it, err := n.c.Get(ctx, "default", "s", client.StringKey(key), client.GetOptions{Linearizable: true})
			if err != nil || it.Version != want {
				t.Fatalf("acknowledged %s at seq %d: %+v, %v on %s\nold leader's log:\n%s", key, want, it, err, n.addr, logOf(old.d))
			}
		}
	}
	waitUntil(t, "equal state hashes", func() bool {
		s1, h1, err1 := old.c.Hash(ctx, "default")
		s2, h2, err2 := next.c.Hash(ctx, "default")
		return err1 == nil && err2 == nil && s1 == s2 && string(h1) == string(h2)
	})
	if leaders := checkLeaderEntries(t, srv.ClientURL(), "default"); leaders < 2 {
		t.Fatalf("the journal holds %d leader entries; the old and the new leader each append one", leaders)
	}
}

// checkLeaderEntries reads domain's whole journal and checks the fence's
// promise: every entry was appended by the node whose leader entry (tx id
// lead/<node>/<token>) comes last before it, so nothing a deposed leader
// appended after another took over landed. It returns how many leader
// entries there are.
func checkLeaderEntries(t *testing.T, natsURL, domain string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := journal.Dial(natsURL, journal.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	j, err := conn.Open(ctx, domain, journal.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, last, err := j.Bounds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leader, leaders := "", 0
	for from := journal.Seq(1); from <= last; {
		recs, err := j.Read(ctx, from, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			var e journal.Entry
			if err := e.UnmarshalBinary(r.Data); err != nil {
				t.Fatalf("seq %d: %v", r.Seq, err)
			}
			if strings.HasPrefix(e.TxID, "lead/") {
				leader = e.Node
				leaders++
			} else if e.Node != leader {
				t.Errorf("seq %d (%s) was appended by %s after %s's leader entry", r.Seq, e.TxID, e.Node, leader)
			}
			from = r.Seq + 1
		}
	}
	return leaders
}

// logOf kills a daemon and returns what it logged.
func logOf(d *daemon) string {
	d.cmd.Process.Kill()
	<-d.done
	return d.log.String()
}
