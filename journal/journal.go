package journal

import (
	"context"
	"errors"
	"fmt"
)

// Seq is a journal sequence number: a committed transaction's commit
// version. The first message of a journal has seq 1.
type Seq uint64

// Msg is one message to append: an encoded Entry and its transaction id,
// which the journal uses to drop a retried append (Nats-Msg-Id).
type Msg struct {
	ID   string
	Data []byte
}

// Record is a stored message. Data is owned by the caller.
type Record struct {
	Seq  Seq
	ID   string
	Data []byte
}

// Journal is one domain's execution log. Implementations are safe for
// concurrent use, but the sop engine appends from one goroutine per domain
// (the leader's group commit) and relies on the fence, not on that, for
// safety.
type Journal interface {
	// Append stores msgs as the seqs expectLast+1, expectLast+2, ... if and
	// only if the journal's last seq is expectLast, and returns the first of
	// them. A group is stored all or nothing; an implementation whose server
	// caps group size splits larger groups into consecutive all-or-nothing
	// parts, each fenced on the part before it, and reports a failure after
	// some parts with a *PartialError. Errors: *FencedError when the last seq
	// is not expectLast (nothing stored); *DuplicateError when a message's
	// ID was appended before within the dedupe window (nothing stored);
	// ErrTooLarge when a message exceeds the size limit (nothing stored);
	// ErrUnavailable when the outcome is unknown (read back to learn it).
	// An empty group stores nothing and returns expectLast+1 after the same
	// fence check.
	Append(ctx context.Context, expectLast Seq, msgs []Msg) (Seq, error)

	// Read returns up to max records with seq >= from, in seq order; fewer
	// (possibly none) when the journal ends sooner. A from below the first
	// retained seq returns a *CompactedError.
	Read(ctx context.Context, from Seq, max int) ([]Record, error)

	// Follow calls fn with every record from seq from on, in order, without
	// gaps, waiting for new ones, until ctx ends (returning ctx.Err()) or fn
	// returns an error (returned as is). A from below the first retained seq
	// returns a *CompactedError before calling fn.
	Follow(ctx context.Context, from Seq, fn func(Record) error) error

	// Bounds returns the first retained seq and the last seq. An empty
	// journal returns (1, 0); after everything is purged, first = last+1.
	Bounds(ctx context.Context) (first, last Seq, err error)

	// Purge discards the records below seq below; the last seq, and so the
	// fence, is unchanged. Purging below the first retained seq does nothing.
	Purge(ctx context.Context, below Seq) error
}

// Errors returned by journals. Callers test them with errors.Is, and
// errors.As for the typed ones.
var (
	// ErrFenced: the journal's last seq was not the expected one: another
	// leader appended, or this one's view is stale. See FencedError.
	ErrFenced = errors.New("journal: fenced: last seq differs from the expected one")
	// ErrDuplicate: a message's ID was already appended. See DuplicateError.
	ErrDuplicate = errors.New("journal: duplicate message id")
	// ErrCompacted: the position asked for was purged. See CompactedError.
	ErrCompacted = errors.New("journal: position compacted")
	// ErrTooLarge: a message exceeds the journal's size limit.
	ErrTooLarge = errors.New("journal: message too large")
	// ErrUnavailable: the journal could not be reached; an append's outcome
	// is unknown.
	ErrUnavailable = errors.New("journal: unavailable")
	// ErrPartial: a split append stored only some of its parts. See
	// PartialError.
	ErrPartial = errors.New("journal: append stored only part of the group")
)

// FencedError reports the journal's actual last seq.
type FencedError struct{ Expected, Last Seq }

func (e *FencedError) Error() string {
	return fmt.Sprintf("journal: fenced: expected last seq %d, the journal's is %d", e.Expected, e.Last)
}

// Is makes errors.Is(err, ErrFenced) hold.
func (e *FencedError) Is(target error) bool { return target == ErrFenced }

// DuplicateError names a message ID the journal already holds. Seq is its
// seq when the journal knows it, else 0 (JetStream does not say: read back
// from the expected seq to find it).
type DuplicateError struct {
	ID  string
	Seq Seq
}

func (e *DuplicateError) Error() string {
	if e.Seq == 0 {
		return fmt.Sprintf("journal: duplicate message id %q", e.ID)
	}
	return fmt.Sprintf("journal: duplicate message id %q, stored at seq %d", e.ID, e.Seq)
}

// Is makes errors.Is(err, ErrDuplicate) hold.
func (e *DuplicateError) Is(target error) bool { return target == ErrDuplicate }

// CompactedError reports the first seq the journal still holds. A reader
// that needs older positions restores a snapshot first.
type CompactedError struct{ Asked, First Seq }

func (e *CompactedError) Error() string {
	return fmt.Sprintf("journal: seq %d was purged; the first retained seq is %d: restore a snapshot at or after %d", e.Asked, e.First, e.First-1)
}

// Is makes errors.Is(err, ErrCompacted) hold.
func (e *CompactedError) Is(target error) bool { return target == ErrCompacted }

// PartialError reports how many messages of a split append were stored
// (the first Stored messages, at consecutive seqs from First) before Err.
type PartialError struct {
	First  Seq
	Stored int
	Err    error
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("journal: stored %d messages from seq %d, then: %v", e.Stored, e.First, e.Err)
}

// Is makes errors.Is(err, ErrPartial) hold.
func (e *PartialError) Is(target error) bool { return target == ErrPartial }

// Unwrap returns the error that stopped the append.
func (e *PartialError) Unwrap() error { return e.Err }

// Stager is a Journal that takes a group's messages while the group forms:
// the server keeps each message apart from the journal as it arrives, so
// the work left when the group is complete (and the caller waits) is
// shorter. The sop engine's leader streams a group this way while its
// committers are still submitting.
type Stager interface {
	Journal
	// Stage begins a group to be appended at expectLast+1, ... under the
	// same fence as Append. It sends nothing yet.
	Stage(expectLast Seq) Staged
	// StageLimit is the most messages one staged group takes.
	StageLimit() int
}

// Staged is a group being staged. It is used by one goroutine at a time.
type Staged interface {
	// Add sends msgs on; the journal copies what it keeps, so the caller
	// may reuse their Data once Add returns. An error (a message over the
	// size limit, an id twice in the group, more than StageLimit
	// messages, a failed send) ends the group: Commit returns it and
	// stores nothing.
	Add(msgs ...Msg) error
	// Commit stores every message added, all or nothing, with the meaning
	// and the errors of Append (no *PartialError: a staged group is never
	// split), and returns the first seq. An empty group stores nothing
	// and returns expectLast+1 after the fence check.
	Commit(ctx context.Context) (Seq, error)
	// Abandon drops the group: nothing it sent is stored (the server
	// discards an uncommitted batch after its timeout).
	Abandon()
}
