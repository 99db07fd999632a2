package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sopd/sop/client"
	"github.com/sopd/sop/faults"
	"github.com/sopd/sop/journal"
)

// sopCluster is a 3-node sopd cluster on its own NATS cluster and Redis, and one
// pooled HTTP client per node.
type sopCluster struct {
	c        *faults.Cluster
	clients  []*client.Client
	puts     atomic.Int64      // puts acknowledged, checked against the store's count
	profiles map[string]string // process -> profiling address, with -server-profiles
}

// sopClusterRun is what the sop side measured.
type sopClusterRun struct {
	rate    float64 // commits/s
	entry   int     // bytes of one put's journal entry, as stored
	group   float64 // mean commits per group (journal append)
	sampled int     // commits the group figure is taken from
	cpu     cpuUse  // CPU used per process
}

// startSopCluster starts Redis, the NATS servers and the sopd nodes, waits for
// domain default's leader and creates the store. It does what faults.StartCluster
// does but connects the nodes to NATS and Redis directly, not through the TCP
// proxies that function puts in between for network-cut faults (a hop the peer
// would not have), and runs them with sopd's default lease TTL (not the tests'
// 1s) and info logging (not debug).
func startSopCluster(h *harness, clients int, toLeader, batch, profile bool) (*sopCluster, error) {
	redis := faults.StartRedis(h)
	c := &faults.Cluster{Redis: redis, NATS: faults.StartNATSWith(h, faults.NATSOptions{Servers: clusterNATS, Profile: profile})}
	profiles := natsProfiles(c.NATS)
	for i := range clusterNodes {
		name := fmt.Sprintf("s%d", i+1)
		args := []string{"--log-level", "info"}
		if profile {
			addr := faults.FreeAddr(h)
			profiles["sopd-"+name] = addr
			args = append(args, "--pprof", addr)
		}
		c.Nodes = append(c.Nodes, faults.StartNode(h, faults.NodeOptions{
			Name: name, NATSURL: c.NATS.URL(), RedisURL: redis.URL(), ClusterName: "bench",
			JournalReplicas: clusterNATS, Args: args,
		}))
	}
	ctx := context.Background()
	leader, err := c.WaitLeader(ctx, engineDomain, 60*time.Second)
	if err != nil {
		return nil, err
	}
	s := &sopCluster{c: c, profiles: profiles}
	for _, n := range c.Nodes {
		cl, err := client.New("http://"+n.Addr, client.Options{HTTPClient: pooledClient(clients), WriteToLeader: toLeader, BatchWrites: batch})
		if err != nil {
			return nil, err
		}
		s.clients = append(s.clients, cl)
	}
	if _, err := s.clients[nodeIndex(c, leader)].CreateStore(ctx, engineDomain, httpStore, nil); err != nil {
		return nil, fmt.Errorf("create store: %w", err)
	}
	return s, s.waitStore(30 * time.Second)
}

// waitStore waits until every node has applied the store's creation: a follower
// refuses a put into a store it does not know yet.
func (s *sopCluster) waitStore(within time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for i, cl := range s.clients {
		for !hasStore(ctx, cl) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("node %s has no store %s after %v", s.c.Nodes[i].Name, httpStore, within)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

func hasStore(ctx context.Context, cl *client.Client) bool {
	stores, err := cl.Stores(ctx, engineDomain)
	if err != nil {
		return false
	}
	for _, st := range stores {
		if st.Name == httpStore {
			return true
		}
	}
	return false
}

// pooledClient keeps up to n idle connections to a node: the client package's own
// transport keeps Go's default of 2, and writers beyond that would open a new
// connection for most requests.
func pooledClient(n int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = n
	t.DisableCompression = true
	return &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func nodeIndex(c *faults.Cluster, n *faults.Node) int {
	for i, m := range c.Nodes {
		if m == n {
			return i
		}
	}
	return 0
}

// put writes g's next key and value through node i's client.
func (s *sopCluster) put(i int, g *httpGen) error {
	key, value := g.next()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.clients[i].Put(ctx, engineDomain, httpStore, client.StringKey(key), json.RawMessage(value)); err != nil {
		return err
	}
	s.puts.Add(1)
	return nil
}

// check waits until the nodes converge and checks that the store holds every
// acknowledged put.
func (s *sopCluster) check() error {
	ctx := context.Background()
	if _, err := s.c.WaitConverged(ctx, engineDomain, 60*time.Second); err != nil {
		return err
	}
	stores, err := s.clients[0].Stores(ctx, engineDomain)
	if err != nil {
		return err
	}
	for _, st := range stores {
		if st.Name == httpStore {
			if want := uint64(s.puts.Load()); st.Count != want {
				return fmt.Errorf("sop: store %s holds %d items, want %d", httpStore, st.Count, want)
			}
			return nil
		}
	}
	return fmt.Errorf("sop: store %s not found", httpStore)
}

// journalSample is what the tail of the domain's journal says about the run.
type journalSample struct {
	entry int     // mean payload of a put's entry, bytes
	group float64 // mean entries per group commit (an atomic batch, or one plain publish)
	n     int     // entries read
}

// sampleJournal reads the last entries of the domain's journal: their sizes, and
// how many went into each group commit (the atomic batch id each message keeps).
func (s *sopCluster) sampleJournal(n int) (journalSample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nc, err := nats.Connect(s.c.NATS.URL())
	if err != nil {
		return journalSample{}, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return journalSample{}, err
	}
	st, err := js.Stream(ctx, journal.StreamName(engineDomain))
	if err != nil {
		return journalSample{}, err
	}
	var bytes, puts, msgs, groups int
	batches := map[string]bool{}
	for seq := st.CachedInfo().State.LastSeq; seq > 0 && msgs < n; seq-- {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			return journalSample{}, err
		}
		var e journal.Entry
		if err := e.UnmarshalBinary(m.Data); err != nil {
			return journalSample{}, fmt.Errorf("seq %d: %w", seq, err)
		}
		if len(e.Ops) != 1 || e.Ops[0].Kind != journal.OpPut {
			break // the store's creation: the run's entries end here
		}
		bytes += len(m.Data)
		puts++
		msgs++
		if id := m.Header.Get(hdrBatchID); id == "" || !batches[id] {
			groups++
			batches[id] = id != ""
		}
	}
	if puts == 0 {
		return journalSample{}, errors.New("no put entry in the journal")
	}
	return journalSample{entry: bytes / puts, group: float64(msgs) / float64(groups), n: msgs}, nil
}

// sopClusterThroughput measures commits/s of -clients writers spread over a fresh
// cluster's nodes.
func sopClusterThroughput(e *env, name string) (run sopClusterRun, err error) {
	err = withHarness(e, name, "sop", func(h *harness) error {
		s, err := startSopCluster(h, e.cfg.clients, e.cfg.writeTo == "leader", e.cfg.batchPuts, e.cfg.serverProf != "")
		if err != nil {
			return err
		}
		e.logf("%s %s sop: %d nodes ready", e.suite.name, name, len(s.c.Nodes))
		profiled := e.serverProfiles("sop", name, s.profiles, e.cfg.warmup+e.cfg.duration)
		run.cpu, err = measureCPU(func() (err error) {
			run.rate, err = throughputOf(e, "sop", name, e.cfg.clients, 1, func(i int) func() error {
				g := newHTTPGen(i)
				node := i % len(s.clients)
				return func() error { return s.put(node, g) }
			})
			return err
		})
		if err := cmp.Or(err, profiled()); err != nil {
			return err
		}
		e.logf("%s %s sop: CPU in cores: %s; %v per op", e.suite.name, name, run.cpu, run.cpu.perOp(run.rate).Round(time.Microsecond))
		if err := s.check(); err != nil {
			return err
		}
		sample, err := s.sampleJournal(4096)
		if err != nil {
			return fmt.Errorf("read the journal: %w", err)
		}
		run.entry, run.group, run.sampled = sample.entry, sample.group, sample.n
		e.logf("%s %s sop: the last %d commits: %.1f per group commit on average, entries of %d bytes", e.suite.name, name, sample.n, sample.group, sample.entry)
		return nil
	})
	return run, err
}
