package sop

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sopd/sop/journal"
)

// followBatch is how many records a follower applies in one B-tree batch
// at most.
const followBatch = 1000

// follow is a follower's loop in place of the leader loop: it follows the
// journal from the seq after the last applied one, with an ordered
// consumer that delivers the backlog and then live entries in order, and
// applies what has arrived in batches. Entries that arrive while a batch
// applies wait in a buffer, so the hand-over from catching up to live
// apply has no gap and no duplicate. A broken subscription is started
// again from the last applied seq; a position the journal no longer
// holds fails the domain (reopen it: it restores a snapshot).
func (d *domain) follow(l *loop) {
	defer close(l.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	recs := make(chan decoded, 4*followBatch)
	batch := make([]decoded, 0, followBatch)
	for attempt := 0; ; attempt++ {
		errc := make(chan error, 1)
		subCtx, stopSub := context.WithCancel(ctx)
		from := journal.Seq(d.last + 1)
		d.log.Debug("following the journal", "from", from)
		go func() {
			errc <- d.journal.Follow(subCtx, from, func(r journal.Record) error {
				select {
				case recs <- d.decode(r):
					return nil
				case <-subCtx.Done():
					return subCtx.Err()
				}
			})
		}()
		err := d.applyFollowed(l, recs, errc, batch)
		stopSub()
		if err == nil { // stopping
			<-errc
			return
		}
		// Drop what the old subscription buffered: the next starts after
		// the last applied seq.
		for len(recs) > 0 {
			<-recs
		}
		var cerr *journal.CompactedError
		if errors.As(err, &cerr) || errors.Is(err, ErrDomainFailed) {
			d.fail(err)
			return
		}
		d.log.Warn("following the journal failed; starting again", "applied", d.last, "err", err)
		select {
		case <-l.stop:
			return
		case <-time.After(backoff(min(attempt, 6)) * 10):
		}
	}
}

// stallCheck is how often the follower loop, when nothing arrived, asks
// the journal whether it is behind; stalledAfter how many such checks in
// a row that find it behind make it start its subscription again.
const (
	stallCheck   = time.Second
	stalledAfter = 3
)

// errStalled: the journal holds entries past the last applied one, but the
// subscription delivered nothing for stalledAfter checks (a subscription
// that a NATS server's death left hanging).
var errStalled = errors.New("the journal has entries the subscription does not deliver")

// applyFollowed applies records as they arrive until l stops (nil) or the
// subscription ends (its error), stalls (errStalled) or applying fails.
func (d *domain) applyFollowed(l *loop, recs <-chan decoded, errc <-chan error, batch []decoded) error {
	tick := time.NewTicker(stallCheck)
	defer tick.Stop()
	applied, stalls := d.last, 0
	for {
		select {
		case <-l.stop:
			return nil
		case <-tick.C:
			if d.last != applied {
				applied, stalls = d.last, 0
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), stallCheck)
			_, last, err := d.journal.Bounds(ctx)
			cancel()
			if err != nil || uint64(last) <= d.last {
				stalls = 0
				continue
			}
			if stalls++; stalls >= stalledAfter {
				return fmt.Errorf("%w (applied %d, the journal ends at %d)", errStalled, d.last, last)
			}
		case err := <-errc:
			if err == nil {
				err = errors.New("the subscription ended")
			}
			return err
		case r := <-recs:
			batch = fill(append(batch[:0], r), recs)
			start := 0
			for start < len(batch) && uint64(batch[start].rec.Seq) <= d.last {
				start++ // already applied (a resubscription's overlap)
			}
			if start == len(batch) {
				continue
			}
			d.log.Debug("applying followed records", "first", batch[start].rec.Seq, "n", len(batch)-start)
			if err := d.applyRecords(batch[start:], nil); err != nil {
				return err
			}
		}
	}
}
