package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream is a Journal on one JetStream stream, one per domain. Each Append
// is one atomic batch (ADR-50; see docs/JETSTREAM.md for the server
// behaviours relied on), fenced with Nats-Expected-Last-Sequence and
// deduplicated with Nats-Msg-Id. Safe for concurrent use.
type Stream struct {
	nc      *nats.Conn
	st      jetstream.Stream
	name    string // stream name
	subject string // every message is published here
	opts    StreamOptions
}

var _ Journal = (*Stream)(nil)

// MaxBatch is the largest atomic batch nats-server accepts by default
// (jetstream.limits.batch.max_msgs); larger groups are split.
const MaxBatch = 1000

// StreamOptions configure a Stream. The zero value is usable.
type StreamOptions struct {
	Replicas     int           // default 1
	DedupeWindow time.Duration // the stream's Duplicates window; default 2 minutes
	BatchSize    int           // messages per atomic batch; default MaxBatch
	// Timeout bounds each request to the server (an append's commit, a
	// read); default 5 seconds. A timed out append returns ErrUnavailable.
	Timeout time.Duration
}

// Header names of the atomic batch and dedupe protocol.
const (
	hdrBatchID      = "Nats-Batch-Id"
	hdrBatchSeq     = "Nats-Batch-Sequence"
	hdrBatchCommit  = "Nats-Batch-Commit"
	hdrExpectedLast = "Nats-Expected-Last-Sequence"
	hdrMsgID        = "Nats-Msg-Id"
	hdrSequence     = "Nats-Sequence"    // direct get
	hdrNumPending   = "Nats-Num-Pending" // batched direct get
)

// StreamName returns the JetStream stream name for a domain.
func StreamName(domain string) string { return "SOP_JOURNAL_" + domain }

// OpenStream creates, or updates to these options, the stream of domain
// name (stream StreamName(name), subject "sop.journal.<name>").
func OpenStream(ctx context.Context, nc *nats.Conn, name string, opts StreamOptions) (*Stream, error) {
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.DedupeWindow == 0 {
		opts.DedupeWindow = 2 * time.Minute
	}
	if opts.BatchSize <= 0 || opts.BatchSize > MaxBatch {
		opts.BatchSize = MaxBatch
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("open journal stream %s: %w", name, err)
	}
	s := &Stream{nc: nc, name: StreamName(name), subject: "sop.journal." + name, opts: opts}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	s.st, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:               s.name,
		Subjects:           []string{s.subject},
		Storage:            jetstream.FileStorage,
		Retention:          jetstream.LimitsPolicy,
		Replicas:           opts.Replicas,
		Duplicates:         opts.DedupeWindow,
		AllowAtomicPublish: true,
		AllowDirect:        true,
	})
	if err != nil {
		return nil, fmt.Errorf("open journal stream %s: %w", s.name, classify(err))
	}
	return s, nil
}

// classify wraps errors that leave an operation's outcome unknown with
// ErrUnavailable.
func classify(err error) error {
	for _, u := range []error{nats.ErrTimeout, nats.ErrNoResponders, nats.ErrConnectionClosed,
		nats.ErrConnectionDraining, nats.ErrConnectionReconnecting, nats.ErrDisconnected,
		jetstream.ErrNoStreamResponse, jetstream.ErrServerShutdown,
		context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, u) {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return err
}

func (s *Stream) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.Timeout)
}

// Bounds implements Journal. JetStream reports an empty stream as (0, 0);
// it is (1, 0) here.
func (s *Stream) Bounds(ctx context.Context) (Seq, Seq, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	info, err := s.st.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("journal bounds: %w", classify(err))
	}
	first, last := Seq(info.State.FirstSeq), Seq(info.State.LastSeq)
	if first == 0 {
		first = 1
	}
	return first, last, nil
}

// Purge implements Journal. below is clamped to last+1: JetStream purging
// beyond that would move the last seq, and so the fence.
func (s *Stream) Purge(ctx context.Context, below Seq) error {
	first, last, err := s.Bounds(ctx)
	if err != nil {
		return err
	}
	below = min(below, last+1)
	if below <= first {
		return nil
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if err := s.st.Purge(ctx, jetstream.WithPurgeSequence(uint64(below))); err != nil {
		return fmt.Errorf("journal purge below %d: %w", below, classify(err))
	}
	return nil
}

// Read implements Journal, with batched direct gets. With Replicas > 1 a
// follower may answer a direct get: a lagging one makes Read return fewer
// records than are committed (never different ones).
func (s *Stream) Read(ctx context.Context, from Seq, max int) ([]Record, error) {
	first, _, err := s.Bounds(ctx)
	if err != nil {
		return nil, err
	}
	if from < first {
		return nil, &CompactedError{Asked: from, First: first}
	}
	var out []Record
	next := from
	for len(out) < max {
		recs, more, err := s.directGet(ctx, directReq{Seq: uint64(next), Batch: min(max-len(out), MaxBatch)})
		if err != nil {
			return nil, fmt.Errorf("journal read from %d: %w", next, err)
		}
		if len(recs) > 0 && recs[0].Seq != next {
			// Purged between Bounds and the get: JetStream starts at the
			// first retained seq instead.
			return nil, &CompactedError{Asked: next, First: recs[0].Seq}
		}
		out = append(out, recs...)
		if !more || len(recs) == 0 {
			break
		}
		next = recs[len(recs)-1].Seq + 1
	}
	return out, nil
}

// directReq is the body of a $JS.API.DIRECT.GET request.
type directReq struct {
	Seq   uint64 `json:"seq,omitempty"`
	Batch int    `json:"batch,omitempty"`
}

// directGet runs one batched direct get and returns its records and
// whether the stream holds more after them.
func (s *Stream) directGet(ctx context.Context, req directReq) ([]Record, bool, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	body, err := json.Marshal(req)
	if err != nil {
		return nil, false, err
	}
	sub, err := s.nc.SubscribeSync(nats.NewInbox())
	if err != nil {
		return nil, false, classify(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, false, err
	}
	if err := s.nc.PublishRequest("$JS.API.DIRECT.GET."+s.name, sub.Subject, body); err != nil {
		return nil, false, classify(err)
	}
	var out []Record
	var pending uint64
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, false, classify(err)
		}
		switch status := m.Header.Get("Status"); status {
		case "":
		case "404": // nothing at or after the seq
			return out, false, nil
		case "204": // end of batch
			return out, len(out) > 0 && pending > 0, nil
		default:
			return nil, false, fmt.Errorf("direct get: status %s %s", status, m.Header.Get("Description"))
		}
		var r Record
		if r, pending, err = directRecord(m); err != nil {
			return nil, false, err
		}
		out = append(out, r)
	}
}

func directRecord(m *nats.Msg) (Record, uint64, error) {
	seq, err := strconv.ParseUint(m.Header.Get(hdrSequence), 10, 64)
	if err != nil {
		return Record{}, 0, fmt.Errorf("direct get: bad %s header: %w", hdrSequence, err)
	}
	pending, err := strconv.ParseUint(m.Header.Get(hdrNumPending), 10, 64)
	if err != nil {
		return Record{}, 0, fmt.Errorf("direct get: bad %s header: %w", hdrNumPending, err)
	}
	return Record{Seq: Seq(seq), ID: m.Header.Get(hdrMsgID), Data: m.Data}, pending, nil
}

// Incarnation identifies this incarnation of the stream: the time
// JetStream created it, in Unix nanoseconds. A domain deleted and created
// again has a new stream, so a new incarnation, on every node alike.
func (s *Stream) Incarnation() string {
	return strconv.FormatInt(s.st.CachedInfo().Created.UnixNano(), 10)
}
