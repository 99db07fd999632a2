// Package replay is the one loop that brings a projection up to date from
// a domain's journal: sop runs it when a domain opens (after restoring a
// snapshot when the journal no longer reaches back to the node's
// checkpoint) and when its leader catches up after a failed append. It
// reads the journal in chunks from a seq to the journal's end, hands each
// chunk to the caller's apply in seq order, and reports progress (entries
// applied, rate, lag, ETA) as it goes.
package replay

import (
	"context"
	"fmt"
	"time"

	"github.com/sopd/sop/journal"
)

// Source is the part of a journal a replay reads.
type Source interface {
	Bounds(ctx context.Context) (first, last journal.Seq, err error)
	Read(ctx context.Context, from journal.Seq, max int) ([]journal.Record, error)
}

// Options configure Run.
type Options struct {
	// Chunk is how many records one Read asks for and one apply gets
	// (default 1000).
	Chunk int
	// Report, when set, is called with the progress every Every (default
	// 1 second) while the replay runs, and once at the end.
	Report func(Progress)
	Every  time.Duration
}

// Progress is how far a replay got.
type Progress struct {
	From    uint64        // the first seq it was to apply
	Applied uint64        // the last seq applied (From-1 before the first)
	Target  uint64        // the journal's last seq when it last looked
	Entries uint64        // records applied
	Elapsed time.Duration // since Run began
	Done    bool          // the replay reached the journal's end
}

// Rate is the records applied per second so far.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Entries) / p.Elapsed.Seconds()
}

// Lag is how many entries remain to the target.
func (p Progress) Lag() uint64 {
	if p.Target <= p.Applied {
		return 0
	}
	return p.Target - p.Applied
}

// ETA is the time left at the rate so far; 0 when unknown or done.
func (p Progress) ETA() time.Duration {
	r := p.Rate()
	if r <= 0 || p.Lag() == 0 {
		return 0
	}
	return time.Duration(float64(p.Lag()) / r * float64(time.Second))
}

// String renders the progress for logs and progress lines.
func (p Progress) String() string {
	return fmt.Sprintf("applied %d of %d (%d entries in %v, %.0f/s, lag %d, eta %v)",
		p.Applied, p.Target, p.Entries, p.Elapsed.Round(time.Millisecond), p.Rate(), p.Lag(), p.ETA().Round(time.Second))
}

// Run applies src's records from seq from on, in order and without gaps,
// chunk by chunk, until a read finds nothing more at or after the
// journal's last seq as it was when the replay began (entries appended
// meanwhile are applied too, as long as reads find them). apply gets
// records in seq order; its error stops the replay. A gap (a record other
// than the next seq) is an error: the journal changed under the replay.
// The error of a read from below the journal's first seq is its
// *journal.CompactedError.
func Run(ctx context.Context, src Source, from uint64, apply func([]journal.Record) error, opts Options) (Progress, error) {
	if opts.Chunk <= 0 {
		opts.Chunk = 1000
	}
	if opts.Every <= 0 {
		opts.Every = time.Second
	}
	start := time.Now()
	p := Progress{From: from, Applied: from - 1}
	_, last, err := src.Bounds(ctx)
	if err != nil {
		return p, err
	}
	p.Target = uint64(last)
	report := func(done bool) {
		p.Elapsed, p.Done = time.Since(start), done
		if opts.Report != nil {
			opts.Report(p)
		}
	}
	next := start.Add(opts.Every)
	for p.Applied < p.Target {
		recs, err := src.Read(ctx, journal.Seq(p.Applied+1), opts.Chunk)
		if err != nil {
			return p, err
		}
		if len(recs) == 0 {
			break
		}
		for i, rec := range recs {
			if uint64(rec.Seq) != p.Applied+1+uint64(i) {
				return p, fmt.Errorf("replay: the journal returned seq %d where %d was next", rec.Seq, p.Applied+1+uint64(i))
			}
		}
		if err := apply(recs); err != nil {
			return p, err
		}
		p.Applied = uint64(recs[len(recs)-1].Seq)
		p.Entries += uint64(len(recs))
		p.Target = max(p.Target, p.Applied)
		if now := time.Now(); now.After(next) {
			report(false)
			next = now.Add(opts.Every)
		}
	}
	report(true)
	return p, nil
}
