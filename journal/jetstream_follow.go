package journal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Follow implements Journal with an ordered consumer. JetStream starts a
// consumer asked for a purged seq at the first retained one, so Follow
// checks the bounds first and reports any later gap as compaction.
// followInactive is how long the server keeps a Follow's ordered consumer
// once nothing pulls from it.
const followInactive = 10 * time.Second

func (s *Stream) Follow(ctx context.Context, from Seq, fn func(Record) error) error {
	first, _, err := s.Bounds(ctx)
	if err != nil {
		return err
	}
	if from < first {
		return &CompactedError{Asked: from, First: first}
	}
	cons, err := s.st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   uint64(from),
		// The server drops a consumer nobody pulls from after this long
		// (the client's default is 5 minutes): followers and rebuilds that
		// stop following leave none behind for long, under the stream's
		// consumer limit.
		InactiveThreshold: followInactive,
	})
	if err != nil {
		return fmt.Errorf("journal follow from %d: %w", from, classify(err))
	}
	// Buffered, so that the client's delivery goroutine and deliver's
	// do not hand over one message at a time (a goroutine switch each).
	recs := make(chan Record, followBuffer)
	fatal := make(chan error, 1)
	done := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			sendErr(fatal, err)
			return
		}
		r := Record{Seq: Seq(md.Sequence.Stream), ID: m.Headers().Get(hdrMsgID), Data: m.Data()}
		select {
		case recs <- r:
		case <-done:
		}
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		// The ordered consumer recovers from the others by itself.
		if errors.Is(err, nats.ErrConnectionClosed) {
			sendErr(fatal, err)
		}
	}))
	if err != nil {
		return fmt.Errorf("journal follow from %d: %w", from, classify(err))
	}
	defer cc.Stop()
	defer close(done) // before Stop: unblocks a callback waiting on recs
	return deliver(ctx, from, recs, fatal, fn)
}

// followBuffer is how many records Follow's consumer may hand over ahead
// of fn: about one pull's worth (nats.go pulls 500 messages at a time).
const followBuffer = 512

func sendErr(c chan error, err error) {
	select {
	case c <- err:
	default:
	}
}

// deliver passes recs to fn in order from next, skipping redeliveries
// after a consumer reset.
func deliver(ctx context.Context, next Seq, recs <-chan Record, fatal <-chan error, fn func(Record) error) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-fatal:
			return fmt.Errorf("journal follow at %d: %w", next, classify(err))
		case r := <-recs:
			switch {
			case r.Seq < next:
				continue
			case r.Seq > next:
				return &CompactedError{Asked: next, First: r.Seq}
			}
			if err := fn(r); err != nil {
				return err
			}
			next++
		}
	}
}
