package check

import (
	"fmt"
	"strings"
)

// Event is one change a watcher receives: the op on Key of Store in the
// transaction committed at Seq. A transaction with several ops gives
// several events with the same Seq, in the transaction's order; an event is
// identified by (Seq, Store, Key).
type Event struct {
	Seq   uint64
	Store string
	Key   string
	// Kind is the op, e.g. "put" or "delete"; compared as given.
	Kind string
}

func (e Event) String() string {
	return fmt.Sprintf("%d %s/%s %s", e.Seq, e.Store, e.Key, e.Kind)
}

type eventID struct {
	seq        uint64
	store, key string
}

func (e Event) id() eventID { return eventID{e.Seq, e.Store, e.Key} }

// StreamResult is the answer of Stream. Each count is of events.
type StreamResult struct {
	// Watcher names the watcher checked, for the report.
	Watcher string
	// Want is how many events the watcher should have seen; Got how many it
	// received.
	Want, Got int
	// Missing: wanted events never received (gaps).
	Missing int
	// Duplicates: events received again after their first receipt.
	Duplicates int
	// Extra: received events the watcher should not have seen at all.
	Extra int
	// Backwards: received events whose seq is below the previous one's.
	Backwards int
	// Reordered: events received in another order than the journal's
	// within one seq.
	Reordered int
	// WrongKind: events received with another kind than the journal's.
	WrongKind int
	// InvalidWant: events the ground truth lists more than once (a bug in
	// the caller, not in sop).
	InvalidWant int
	// Violations describes the first few violations in words, in the order
	// they were found (received events first, then gaps).
	Violations []string
}

// maxDescribed is how many violations a StreamResult describes.
const maxDescribed = 10

// Count is how many violations were found.
func (r StreamResult) Count() int {
	return r.Missing + r.Duplicates + r.Extra + r.Backwards + r.Reordered + r.WrongKind + r.InvalidWant
}

// Ok reports whether the watcher saw exactly what it should have.
func (r StreamResult) Ok() bool { return r.Count() == 0 }

func (r StreamResult) String() string {
	var b strings.Builder
	verdict := "Ok"
	if !r.Ok() {
		verdict = fmt.Sprintf("%d violations", r.Count())
	}
	fmt.Fprintf(&b, "stream %q %s: got %d of %d events", r.Watcher, verdict, r.Got, r.Want)
	if !r.Ok() {
		fmt.Fprintf(&b, " (%d missing, %d duplicated, %d extra, %d backwards, %d reordered, %d wrong kind, %d invalid ground truth)",
			r.Missing, r.Duplicates, r.Extra, r.Backwards, r.Reordered, r.WrongKind, r.InvalidWant)
	}
	for _, v := range r.Violations {
		b.WriteString("\n  ")
		b.WriteString(v)
	}
	if n := r.Count() - len(r.Violations); n > 0 && len(r.Violations) > 0 {
		fmt.Fprintf(&b, "\n  ... and %d more", n)
	}
	return b.String()
}

func (r *StreamResult) violation(format string, args ...any) {
	if len(r.Violations) < maxDescribed {
		r.Violations = append(r.Violations, fmt.Sprintf(format, args...))
	}
}

// Stream checks what a watcher received across its reconnects (got)
// against the ground truth (want): every event, in journal order, that the
// watcher's filter should see, derived by the caller from the journal. It
// checks that seqs never decrease, that events of one seq come in want's
// order, that no event comes twice, that every wanted event comes, and that
// nothing else does.
func Stream(watcher string, got, want []Event) StreamResult {
	r := StreamResult{Watcher: watcher, Want: len(want), Got: len(got)}
	pos := make(map[eventID]int, len(want))
	for i, e := range want {
		if _, dup := pos[e.id()]; dup {
			r.InvalidWant++
			r.violation("ground truth lists event %v twice", e)
			continue
		}
		pos[e.id()] = i
	}
	seen := make([]bool, len(want))
	last := -1 // want position of the last event received for the first time
	for i, e := range got {
		if i > 0 && e.Seq < got[i-1].Seq {
			r.Backwards++
			r.violation("event %d: seq went back from %d to %d", i, got[i-1].Seq, e.Seq)
		}
		p, ok := pos[e.id()]
		switch {
		case !ok:
			r.Extra++
			r.violation("event %d: %v is not an event the watcher should see", i, e)
			continue
		case seen[p]:
			r.Duplicates++
			r.violation("event %d: %v received again", i, e)
			continue
		}
		seen[p] = true
		if e.Kind != want[p].Kind {
			r.WrongKind++
			r.violation("event %d: %v has kind %q in the journal", i, e, want[p].Kind)
		}
		if last >= 0 && p < last && want[last].Seq == e.Seq {
			r.Reordered++
			r.violation("event %d: %v received after %v, which follows it in seq %d", i, e, want[last], e.Seq)
		}
		last = p
	}
	for p, e := range want {
		if !seen[p] && pos[e.id()] == p {
			r.Missing++
			r.violation("gap: %v never received", e)
		}
	}
	return r
}

// StreamFrom is Stream for a watcher that started at seq from: only the
// events of want at or after from are expected.
func StreamFrom(watcher string, from uint64, got, want []Event) StreamResult {
	var tail []Event
	for _, e := range want {
		if e.Seq >= from {
			tail = append(tail, e)
		}
	}
	return Stream(watcher, got, tail)
}
