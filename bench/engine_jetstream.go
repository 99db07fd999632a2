package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/sopd/sop/journal"
)

// jetStreamEngine is the journal sop sits on, used raw: an embedded nats-server with
// sync always (as sop starts it) and one stream opened with journal.OpenStream and the
// options sop uses, appended to from one goroutine.
type jetStreamEngine struct {
	srv    *journal.Server
	nc     *nats.Conn
	stream *journal.Stream
	last   journal.Seq // the stream's last seq: the fence of the next append
	msgs   []journal.Msg
}

func openJetStream(dir string) (*jetStreamEngine, error) {
	srv, err := journal.StartServer(journal.ServerOptions{Dir: dir, Sync: journal.SyncAlways})
	if err != nil {
		return nil, err
	}
	nc, err := srv.Connect()
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("connect: %w", err)
	}
	stream, err := journal.OpenStream(context.Background(), nc, "peer", journal.StreamOptions{})
	if err != nil {
		nc.Close()
		srv.Shutdown()
		return nil, err
	}
	return &jetStreamEngine{srv: srv, nc: nc, stream: stream}, nil
}

// appendGroup appends n entries as one fenced group (one atomic batch), back to back
// with the previous one.
func (j *jetStreamEngine) appendGroup(g *entryGen, n int) error {
	j.msgs = j.msgs[:0]
	for i := range n {
		m, err := peerEntry(g, uint64(j.last)+uint64(i))
		if err != nil {
			return err
		}
		j.msgs = append(j.msgs, m)
	}
	return j.append(j.msgs)
}

// appendOne appends one entry: a plain publish fenced on the last seq, awaited.
func (j *jetStreamEngine) appendOne(g *entryGen) error {
	m, err := peerEntry(g, uint64(j.last))
	if err != nil {
		return err
	}
	return j.append([]journal.Msg{m})
}

func (j *jetStreamEngine) append(msgs []journal.Msg) error {
	first, err := j.stream.Append(context.Background(), j.last, msgs)
	if err != nil {
		return err
	}
	if first != j.last+1 {
		return fmt.Errorf("append after seq %d stored from seq %d", j.last, first)
	}
	j.last += journal.Seq(len(msgs))
	return nil
}

// close checks that the stream ends at the last seq appended, then stops the server.
func (j *jetStreamEngine) close() error {
	_, last, err := j.stream.Bounds(context.Background())
	if err == nil && last != j.last {
		err = fmt.Errorf("jetstream: stream ends at seq %d, want %d", last, j.last)
	}
	j.nc.Close()
	j.srv.Shutdown()
	return err
}

// withJetStream starts a server in a fresh directory for one case, runs fn on it, and
// stops it.
func withJetStream(e *env, name string, fn func(j *jetStreamEngine) error) (err error) {
	dir, remove, err := caseDir(e, name, "jetstream")
	if err != nil {
		return err
	}
	defer remove()
	j, err := openJetStream(dir)
	if err != nil {
		return fmt.Errorf("start jetstream: %w", err)
	}
	defer func() { err = errors.Join(err, j.close()) }()
	return fn(j)
}

// jetStreamThroughput measures messages/s of one appender appending groups of
// -clients messages back to back: the most sop's group commit can get from the
// journal with that many committers.
func jetStreamThroughput(e *env, name string) (rate float64, err error) {
	n := min(e.cfg.clients, journal.MaxBatch)
	err = withJetStream(e, name, func(j *jetStreamEngine) error {
		rate, err = throughput(e, "jetstream", name, 1, n, func(g *entryGen) error { return j.appendGroup(g, n) })
		return err
	})
	return rate, err
}

// jetStreamLatency measures the latency of sequential one-message appends.
func jetStreamLatency(e *env, name string) (l latency, err error) {
	err = withJetStream(e, name, func(j *jetStreamEngine) error {
		l, err = latencies(e, "jetstream", name, j.appendOne)
		return err
	})
	return l, err
}
