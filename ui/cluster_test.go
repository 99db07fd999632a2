package ui_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/sopd/sop"
	"github.com/sopd/sop/journal"
	"github.com/sopd/sop/lock"
)

// TestUIClusterStatus: on a cluster of two nodes (one NATS server, one
// lease store) the status view of each node lists both members with their
// roles in domain default, and shows its own role there, its applied seq
// and a lag of 0 once it has applied the leader's writes.
func TestUIClusterStatus(t *testing.T) {
	p := newPage(t)
	srv, err := journal.StartServer(journal.ServerOptions{Dir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown) // cleanups run last first: after the nodes close
	leases := lock.NewMemory(lock.MemoryOptions{})
	role := map[string]string{"a": "leader", "b": "follower"}

	// Node a takes default's lease alone, so b, opened once a leads, follows.
	a := newClusterNode(t, srv.ClientURL(), leases, "a")
	p.open(a, "#/status")
	p.waitExact(`#domains-status tr[data-domain="default"] .role`, role["a"])
	b := newClusterNode(t, srv.ClientURL(), leases.Peer(), "b")

	a.createStore("users")
	var last uint64
	for i := range 5 {
		last = a.put("users", fmt.Sprint("user", i), fmt.Sprintf(`{"n":%d}`, i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := b.db.WaitApplied(ctx, "default", last); err != nil {
		t.Fatalf("b applying seq %d: %v", last, err)
	}

	for _, n := range []*node{a, b} {
		self := n.db.Node()
		p.open(n, "#/status")
		p.waitExact("#node-id", self)
		row := `#domains-status tr[data-domain="default"] `
		p.waitExact(row+".role", role[self])
		p.waitExact(row+".applied", strconv.FormatUint(last, 10))
		p.waitExact(row+".lag", "0")
		// Members announce themselves every second: wait to hear both.
		for id, r := range role {
			member := `#members tr[data-node="` + id + `"] `
			p.waitExact(member+".roles", "default: "+r)
			p.waitExact(member+".address", "http://"+id+".test")
		}
		p.waitText(`#members tr.self[data-node="`+self+`"]`, self+" (this node)")
		if got := p.count("#members tr.member"); got != 2 {
			t.Errorf("node %s lists %d members, want 2:\n%s", self, got, p.text())
		}
	}
}

// newClusterNode opens node id of cluster "test", its journal on the NATS
// server at url and its leases taken from leases, and serves it.
func newClusterNode(t *testing.T, url string, leases lock.Leaser, id string) *node {
	t.Helper()
	db, err := sop.Open(context.Background(), sop.Options{Dir: t.TempDir(), NATSURL: url, Leases: leases,
		ClusterName: "test", NodeID: id, Advertise: "http://" + id + ".test"})
	if err != nil {
		t.Fatal(err)
	}
	return serveNode(t, db, "", "")
}
