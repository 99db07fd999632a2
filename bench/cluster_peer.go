package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sopd/sop/faults"
	"github.com/sopd/sop/journal"
)

// Atomic batch headers (ADR-50), set by hand as journal.Stream does.
const (
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"
)

const (
	r3Stream  = "BENCH_R3"
	r3Subject = "bench.r3"
	r3Node    = "s1" // the node name in the peer's entries, as long as sopd's
)

// r3Peer is an R3 stream on a fresh NATS cluster and a connection to it.
type r3Peer struct {
	nc       *nats.Conn
	stream   jetstream.Stream
	acked    uint64 // messages acknowledged; owned by the one publisher
	msgs     []*nats.Msg
	profiles map[string]string // server -> profiling address, with -server-profiles
}

// r3Run is what the peer side measured.
type r3Run struct {
	rate  float64 // messages/s
	batch int     // messages per atomic batch
	entry int     // bytes of one message's payload
	cpu   cpuUse  // CPU used per process
}

func startR3Peer(h *harness, profile bool) (*r3Peer, error) {
	n := faults.StartNATSWith(h, faults.NATSOptions{Servers: clusterNATS, Profile: profile})
	nc, err := nats.Connect(n.URL())
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	h.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: r3Stream, Subjects: []string{r3Subject}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, Replicas: clusterNATS, AllowAtomicPublish: true,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream: %w", err)
	}
	return &r3Peer{nc: nc, stream: st, profiles: natsProfiles(n)}, nil
}

// r3Entry encodes the journal entry a sopd node appends for one HTTP put of g's
// next key and value, with the fields it sets, so both sides store messages of
// the same size.
func r3Entry(g *httpGen, readVersion uint64) ([]byte, error) {
	key, value := g.next()
	e := journal.Entry{
		TxID:        g.hex(32),
		Domain:      engineDomain,
		ReadVersion: readVersion,
		Node:        r3Node,
		Time:        time.Now().UnixNano(),
		Ops:         []journal.Op{{Kind: journal.OpPut, Store: httpStore, Key: []byte(key), Value: []byte(value)}},
	}
	return e.MarshalBinary()
}

// publishBatch publishes n fresh entries as one atomic batch: every message but
// the last without a reply, the last with Nats-Batch-Commit as a request, whose
// ack it waits for and checks.
func (p *r3Peer) publishBatch(g *httpGen, n int) error {
	id := g.hex(22) // as long as the nuid journal.Stream uses
	p.msgs = p.msgs[:0]
	for i := range n {
		data, err := r3Entry(g, p.acked+uint64(i))
		if err != nil {
			return err
		}
		m := nats.NewMsg(r3Subject)
		m.Data = data
		m.Header.Set(hdrBatchID, id)
		m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		p.msgs = append(p.msgs, m)
	}
	for _, m := range p.msgs[:n-1] {
		if err := p.nc.PublishMsg(m); err != nil {
			return err
		}
	}
	last := p.msgs[n-1]
	last.Header.Set(hdrBatchCommit, "1")
	reply, err := p.nc.RequestMsg(last, 10*time.Second)
	if err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	var ack struct {
		Seq   uint64 `json:"seq"`
		Batch string `json:"batch"`
		Count int    `json:"count"`
		Error *struct {
			Code        int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(reply.Data, &ack); err != nil {
		return fmt.Errorf("commit batch: unreadable ack %q: %w", reply.Data, err)
	}
	if ack.Error != nil {
		return fmt.Errorf("commit batch: error %d: %s", ack.Error.Code, ack.Error.Description)
	}
	if ack.Batch != id || ack.Count != n || ack.Seq != p.acked+uint64(n) {
		return fmt.Errorf("commit batch: ack %s, want batch %s, count %d, seq %d", reply.Data, id, n, p.acked+uint64(n))
	}
	p.acked += uint64(n)
	return nil
}

// check compares the stream's last seq with the messages acknowledged.
func (p *r3Peer) check() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := p.stream.Info(ctx)
	if err != nil {
		return err
	}
	if info.State.LastSeq != p.acked || info.State.Msgs != p.acked {
		return fmt.Errorf("jetstream-r3: stream holds %d messages up to seq %d, want %d", info.State.Msgs, info.State.LastSeq, p.acked)
	}
	return nil
}

// r3Batch is the peer's batch size: -clients messages, as many as sop's writers
// can have in flight, within the server's limit.
func r3Batch(c config) int { return min(c.clients, journal.MaxBatch) }

// r3Throughput measures messages/s of one publisher appending atomic batches of
// -clients messages back to back to an R3 stream on a fresh NATS cluster.
func r3Throughput(e *env, name string) (run r3Run, err error) {
	run.batch = r3Batch(e.cfg)
	if data, err := r3Entry(newHTTPGen(0), 1); err == nil {
		run.entry = len(data)
	}
	err = withHarness(e, name, "jetstream-r3", func(h *harness) error {
		p, err := startR3Peer(h, e.cfg.serverProf != "")
		if err != nil {
			return err
		}
		e.logf("%s %s jetstream-r3: stream ready", e.suite.name, name)
		profiled := e.serverProfiles("jetstream-r3", name, p.profiles, e.cfg.warmup+e.cfg.duration)
		run.cpu, err = measureCPU(func() (err error) {
			run.rate, err = throughputOf(e, "jetstream-r3", name, 1, run.batch, func(i int) func() error {
				g := newHTTPGen(i)
				return func() error { return p.publishBatch(g, run.batch) }
			})
			return err
		})
		if err := cmp.Or(err, profiled()); err != nil {
			return err
		}
		e.logf("%s %s jetstream-r3: CPU in cores: %s; %v per op", e.suite.name, name, run.cpu, run.cpu.perOp(run.rate).Round(time.Microsecond))
		return p.check()
	})
	return run, err
}
