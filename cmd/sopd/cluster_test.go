package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sopd/sop/client"
	"github.com/sopd/sop/faults"
	"github.com/sopd/sop/journal"
)

// TestClusterFailover: two sopd nodes share a NATS server and a Redis;
// the lease holder leads, the other forwards writes to it.
// After kill -9 of the leader the other takes over within a few lease
// times, and no acknowledged write is lost; the old leader, restarted,
// follows and converges to the same state hash.
func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes; skipped with -short")
	}
	redis := faults.StartRedis(t).Addr
	srv, err := journal.StartServer(journal.ServerOptions{Dir: t.TempDir(), Listen: faults.FreeAddr(t)})
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
		n := &node{addr: faults.FreeAddr(t), data: filepath.Join(t.TempDir(), "data")}
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

	// A client of the follower that writes to the leader: the follower
	// serves none of its writes, and it reads them on the follower.
	direct, err := client.New("http://"+follower.addr, client.Options{WriteToLeader: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		key := fmt.Sprintf("direct%d", i)
		seq, err := direct.Put(ctx, "default", "s", client.StringKey(key), json.RawMessage(`4`))
		if err != nil {
			t.Fatalf("write to the leader: %v", err)
		}
		acked[key] = seq
		if it, err := direct.Get(ctx, "default", "s", client.StringKey(key)); err != nil || it.Version != seq {
			t.Fatalf("the follower reads the write made on the leader: %+v, %v", it, err)
		}
	}
	const putRoute = `route="PUT /v1/domains/{d}/stores/{s}/items/{key}"`
	if n := counter(t, follower.addr, "sop_http_requests_total", putRoute); n != 1 {
		t.Fatalf("the follower served %v item PUTs, want 1 (the one forwarded above)", n)
	}
	if n := counter(t, leader.addr, "sop_http_requests_total", putRoute); n != 35 {
		t.Fatalf("the leader served %v item PUTs, want 35", n)
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
	// The client that wrote to the old leader cannot reach it and writes
	// through its endpoint, now the leader.
	if acked["direct-after"], err = direct.Put(ctx, "default", "s", client.StringKey("direct-after"), json.RawMessage(`5`)); err != nil {
		t.Fatalf("write after the leader it knew died: %v", err)
	}
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

// counter is the sum of a counter's values on the node at addr over the
// series whose labels contain label.
func counter(t *testing.T, addr, name, label string) float64 {
	t.Helper()
	text, err := faults.Metrics(addr)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, name+"{") && strings.Contains(line, label) {
			f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			sum += f
		}
	}
	return sum
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
