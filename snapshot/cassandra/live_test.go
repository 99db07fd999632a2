package cassandra

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sopd/sop/snapshot"
	"github.com/sopd/sop/snapshot/snapshottest"
)

// liveConfig returns the configuration of the cluster named by the
// environment, or skips the test. SOP_CASSANDRA_HOSTS (comma-separated
// host or host:port) enables the live tests; SOP_CASSANDRA_DC (default
// datacenter1) and SOP_CASSANDRA_RF (default 1, so that a one-node cluster
// serves LOCAL_QUORUM) set the test keyspaces' replication, and
// SOP_CASSANDRA_USER and SOP_CASSANDRA_PASSWORD the credentials.
func liveConfig(t *testing.T) Config {
	t.Helper()
	hosts := os.Getenv("SOP_CASSANDRA_HOSTS")
	if hosts == "" {
		t.Skip("no Cassandra cluster: set SOP_CASSANDRA_HOSTS=host[:port],... to run the Cassandra store against one (SOP_CASSANDRA_DC, SOP_CASSANDRA_RF, SOP_CASSANDRA_USER, SOP_CASSANDRA_PASSWORD optional)")
	}
	dc := os.Getenv("SOP_CASSANDRA_DC")
	if dc == "" {
		dc = DefaultDatacenter
	}
	rf := 1
	if v := os.Getenv("SOP_CASSANDRA_RF"); v != "" {
		var err error
		if rf, err = strconv.Atoi(v); err != nil {
			t.Fatalf("SOP_CASSANDRA_RF=%q: %v", v, err)
		}
	}
	return Config{
		Hosts:       strings.Split(hosts, ","),
		Datacenter:  dc,
		Replication: map[string]int{dc: rf},
		Username:    os.Getenv("SOP_CASSANDRA_USER"),
		Password:    os.Getenv("SOP_CASSANDRA_PASSWORD"),
		ChunkSize:   256 << 10, // several chunks per conformance snapshot
	}
}

// newLiveStore opens a Store on a fresh keyspace with a random name, which
// t.Cleanup drops.
func newLiveStore(t *testing.T) *Store {
	t.Helper()
	cfg := liveConfig(t)
	cfg.Keyspace = fmt.Sprintf("sop_test_%08x", rand.Uint32())
	cfg.CreateKeyspace = true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := s.session.Query("DROP KEYSPACE IF EXISTS " + cfg.Keyspace).ExecContext(ctx); err != nil {
			t.Errorf("drop test keyspace %s: %v", cfg.Keyspace, err)
		}
		s.Close()
	})
	return s
}

func TestLiveConformance(t *testing.T) {
	liveConfig(t)
	snapshottest.Run(t, func(t *testing.T) snapshot.Store { return newLiveStore(t) })
}

// TestLiveMissingSchema checks that Open without CreateKeyspace names the
// missing keyspace's tables.
func TestLiveMissingSchema(t *testing.T) {
	cfg := liveConfig(t)
	cfg.Keyspace = fmt.Sprintf("sop_absent_%08x", rand.Uint32())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err == nil {
		s.Close()
		t.Fatal("Open of a keyspace without tables succeeded")
	}
	if !strings.Contains(err.Error(), cfg.Keyspace+".manifest does not exist") {
		t.Fatalf("Open: %v, want it to name the missing table", err)
	}
}

// TestLiveProtocol runs each manifest transaction against the server:
// a pending row and its chunks are taken by Cleanup once abandoned, and
// the conditions refuse what they must.
func TestLiveProtocol(t *testing.T) {
	s := newLiveStore(t)
	ctx := context.Background()
	tb := s.t
	k := key{"live", snapshot.NewID(7, 7)}
	t0 := s.stamp()
	if ok, err := tb.begin(ctx, k, 7, t0); err != nil || !ok {
		t.Fatalf("begin = %v, %v", ok, err)
	}
	if ok, err := tb.begin(ctx, k, 7, t0); err != nil || ok {
		t.Fatalf("second begin = %v, %v; want not applied", ok, err)
	}
	if ok, err := tb.reserve(ctx, k, reserveAhead, t0); err != nil || !ok {
		t.Fatalf("reserve = %v, %v", ok, err)
	}
	for n := range 3 {
		if err := tb.putChunk(ctx, k, n, []byte{byte(n)}); err != nil {
			t.Fatal(err)
		}
	}
	r, found, err := tb.get(ctx, k, true)
	if err != nil || !found || r.complete || r.deleting || r.reserved != reserveAhead || r.seq != 7 || !r.updated.Equal(t0) {
		t.Fatalf("pending row = %+v, %v, %v", r, found, err)
	}
	if ok, err := tb.markDeleting(ctx, k, when{complete: true}, 3, t0); err != nil || ok {
		t.Fatalf("markDeleting of a pending row as complete = %v, %v; want not applied", ok, err)
	}
	if ok, err := tb.drop(ctx, k); err != nil || ok {
		t.Fatalf("drop of a pending row = %v, %v; want not applied", ok, err)
	}
	if l, err := s.List(ctx, "live"); err != nil || len(l) != 0 {
		t.Fatalf("List shows a pending row: %v, %v", l, err)
	}
	if n, err := s.Cleanup(ctx, "live"); err != nil || n != 0 {
		t.Fatalf("Cleanup of a young pending row = %d, %v", n, err)
	}
	s.now = func() time.Time { return time.Now().Add(2 * s.cfg.AbandonAfter) }
	if n, err := s.Cleanup(ctx, "live"); err != nil || n != 1 {
		t.Fatalf("Cleanup of an abandoned row = %d, %v; want 1", n, err)
	}
	if _, found, err := tb.get(ctx, k, false); err != nil || found {
		t.Fatalf("row after Cleanup: found %v, %v", found, err)
	}
	for n := range 3 {
		if _, found, err := tb.getChunk(ctx, k, n); err != nil || found {
			t.Fatalf("chunk %d after Cleanup: found %v, %v", n, found, err)
		}
	}
	if ok, err := tb.finish(ctx, k, row{bytes: 1, chunks: 1, created: t0, updated: t0}); err != nil || ok {
		t.Fatalf("finish of a removed row = %v, %v; want not applied", ok, err)
	}

	// A full snapshot, as Put writes it, with seq above 2^63.
	big := snapshot.Meta{ID: snapshot.NewID(1<<63+5, 1), Domain: "live", Seq: 1<<63 + 5}
	data := bytes.Repeat([]byte("sop"), 300<<10)
	m, err := s.Put(ctx, big, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.List(ctx, "live")
	if err != nil || len(l) != 1 || l[0] != m {
		t.Fatalf("List = %v, %v; want [%+v]", l, err, m)
	}
}
