// Package replay is the one loop that brings a projection up to date from
// a domain's journal: sop runs it when a domain opens (after restoring a
// snapshot when the journal no longer reaches back to the node's
// checkpoint), when a domain is rebuilt, and when its leader catches up
// after a failed append. It follows the journal from a seq to the
// journal's end with one subscription that reads ahead while the caller
// applies, hands the records to the caller's apply in seq-ordered chunks,
// and reports progress (entries applied, rate, lag, ETA) as it goes.
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
	Follow(ctx context.Context, from journal.Seq, fn func(journal.Record) error) error
}

// Options configure Run.
type Options struct {
	// Chunk is how many records one apply gets at most (default 1000), and
	// ChunkBytes how many bytes of record data (default 32 MiB; a single
	// larger record still makes a chunk).
	Chunk      int
	ChunkBytes int
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

// readAhead bounds the records read ahead of the one being applied.
const readAhead = 8192

// Run applies src's records from seq from up to the journal's last seq as
// it was when the replay began, in order and without gaps, in chunks. It
// reads with one subscription (src.Follow), which fetches ahead while a
// chunk applies; apply gets records in seq order, and its error stops the
// replay. The error of a replay from below the journal's first seq is its
// *journal.CompactedError.
func Run(ctx context.Context, src Source, from uint64, apply func([]journal.Record) error, opts Options) (Progress, error) {
	return RunDecoded(ctx, src, from, func(r journal.Record) journal.Record { return r }, func(r journal.Record) journal.Seq { return r.Seq }, apply, opts)
}

// RunDecoded is Run with a decoding step that runs on the reading
// goroutine, in parallel with apply: decode turns each record into a T
// (it cannot fail: a T may carry a record's decoding error), seq gives a
// T's seq, and apply gets Ts in seq order.
func RunDecoded[T any](ctx context.Context, src Source, from uint64, decode func(journal.Record) T, seq func(T) journal.Seq, apply func([]T) error, opts Options) (Progress, error) {
	type item struct {
		v    T
		size int
	}
	if opts.Chunk <= 0 {
		opts.Chunk = 1000
	}
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = 32 << 20
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
	if p.Applied >= p.Target {
		report(true)
		return p, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	recs := make(chan item, min(4*opts.Chunk, readAhead))
	errc := make(chan error, 1)
	go func() {
		errc <- src.Follow(ctx, journal.Seq(from), func(r journal.Record) error {
			select {
			case recs <- item{decode(r), len(r.Data)}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	chunk := make([]T, 0, min(opts.Chunk, readAhead))
	bytes := 0
	next := start.Add(opts.Every)
	for p.Applied < p.Target {
		select {
		case err := <-errc:
			if err == nil {
				err = fmt.Errorf("replay: the journal subscription ended at seq %d", p.Applied+1)
			}
			return p, err
		case r := <-recs:
			chunk, bytes = append(chunk[:0], r.v), r.size
		}
	fill:
		for len(chunk) < opts.Chunk && bytes < opts.ChunkBytes && p.Applied+uint64(len(chunk)) < p.Target {
			select {
			case r := <-recs:
				chunk, bytes = append(chunk, r.v), bytes+r.size
			default:
				break fill
			}
		}
		if over := p.Applied + uint64(len(chunk)); over > p.Target {
			chunk = chunk[:len(chunk)-int(over-p.Target)]
		}
		for i, rec := range chunk {
			if s := seq(rec); uint64(s) != p.Applied+1+uint64(i) {
				return p, fmt.Errorf("replay: the journal gave seq %d where %d was next", s, p.Applied+1+uint64(i))
			}
		}
		if err := apply(chunk); err != nil {
			return p, err
		}
		p.Applied = uint64(seq(chunk[len(chunk)-1]))
		p.Entries += uint64(len(chunk))
		if now := time.Now(); now.After(next) {
			report(false)
			next = now.Add(opts.Every)
		}
	}
	report(true)
	return p, nil
}
