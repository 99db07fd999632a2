package check

import (
	"slices"
	"strings"
	"testing"
)

// journal is the ground truth of the stream tests: seq 2 is a transaction
// of three ops.
var journal = []Event{
	{1, "s", "a", "put"},
	{2, "s", "a", "put"},
	{2, "s", "b", "put"},
	{2, "t", "a", "delete"},
	{3, "s", "c", "put"},
	{5, "s", "a", "delete"},
}

func TestStream(t *testing.T) {
	j := journal
	for _, tc := range []struct {
		name  string
		got   []Event
		want  StreamResult // counts only
		words []string     // in the first violation
	}{
		{"exact", slices.Clone(j), StreamResult{}, nil},
		{"reconnect overlaps removed by the watcher", reconnect(j, 3, 1), StreamResult{}, nil},
		{"empty", nil, StreamResult{Missing: 6}, []string{"gap: 1 s/a put never received"}},
		{"gap", cat(j[:1], j[4:]), StreamResult{Missing: 3}, []string{"gap", "2 s/a put"}},
		{"gap inside a transaction", cat(j[:2], j[3:]), StreamResult{Missing: 1}, []string{"gap: 2 s/b put"}},
		{"duplicates after a reconnect", cat(j[:5], j[1:]), StreamResult{Duplicates: 4, Backwards: 1},
			[]string{"event 5: seq went back from 3 to 2"}},
		{"duplicate within a seq", cat(j[:3], j[2:]), StreamResult{Duplicates: 1},
			[]string{"event 3: 2 s/b put received again"}},
		{"reorder within a seq", cat(j[:1], j[2:3], j[1:2], j[3:]), StreamResult{Reordered: 1},
			[]string{"event 2: 2 s/a put received after 2 s/b put, which follows it in seq 2"}},
		{"reorder across seqs", cat(j[:1], j[4:5], j[1:4], j[5:]), StreamResult{Backwards: 1},
			[]string{"event 2: seq went back from 3 to 2"}},
		{"extra event", cat(j[:5], []Event{{4, "s", "z", "put"}}, j[5:]), StreamResult{Extra: 1},
			[]string{"event 5: 4 s/z put is not an event the watcher should see"}},
		{"extra store", cat(j[:1], []Event{{1, "u", "a", "put"}}, j[1:]), StreamResult{Extra: 1},
			[]string{"1 u/a put"}},
		{"wrong kind", cat(j[:5], []Event{{5, "s", "a", "put"}}), StreamResult{WrongKind: 1},
			[]string{`event 5: 5 s/a put has kind "delete" in the journal`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Stream("w1", tc.got, j)
			counts := r
			counts.Watcher, counts.Want, counts.Got, counts.Violations = "", 0, 0, nil
			if !equalCounts(counts, tc.want) {
				t.Fatalf("got %+v, want %+v", counts, tc.want)
			}
			if r.Watcher != "w1" || r.Want != len(j) || r.Got != len(tc.got) {
				t.Fatalf("got %+v", r)
			}
			if r.Ok() != (tc.want.Count() == 0) || len(r.Violations) != min(r.Count(), maxDescribed) {
				t.Fatalf("Ok() = %v, %d violations described of %d: %v", r.Ok(), len(r.Violations), r.Count(), r)
			}
			for _, w := range tc.words {
				if !strings.Contains(r.Violations[0], w) {
					t.Errorf("first violation %q lacks %q", r.Violations[0], w)
				}
			}
			if s := r.String(); !strings.HasPrefix(s, `stream "w1" `) {
				t.Errorf("String() = %q", s)
			}
		})
	}
}

func equalCounts(a, b StreamResult) bool {
	return a.Missing == b.Missing && a.Duplicates == b.Duplicates && a.Extra == b.Extra &&
		a.Backwards == b.Backwards && a.Reordered == b.Reordered && a.WrongKind == b.WrongKind &&
		a.InvalidWant == b.InvalidWant
}

func TestStreamFrom(t *testing.T) {
	if r := StreamFrom("w", 2, journal[1:], journal); !r.Ok() {
		t.Fatalf("watcher from seq 2: %v", r)
	}
	if r := StreamFrom("w", 3, journal[1:], journal); r.Extra != 3 || r.Count() != 3 {
		t.Fatalf("watcher from seq 3 got seq 2: %v", r)
	}
	if r := StreamFrom("w", 4, journal[5:], journal); !r.Ok() || r.Want != 1 {
		t.Fatalf("watcher from seq 4 (no event at 4): %v", r)
	}
	if r := StreamFrom("w", 1, journal[1:], journal); r.Missing != 1 {
		t.Fatalf("watcher from seq 1 missed seq 1: %v", r)
	}
}

func TestStreamReport(t *testing.T) {
	var want []Event
	for i := range 25 {
		want = append(want, Event{Seq: uint64(i + 1), Store: "s", Key: "k", Kind: "put"})
	}
	r := Stream("w", want[20:], want)
	if r.Missing != 20 || len(r.Violations) != maxDescribed {
		t.Fatalf("got %+v", r)
	}
	s := r.String()
	for _, part := range []string{`stream "w" 20 violations: got 5 of 25 events (20 missing`, "gap: 1 s/k put never received", "... and 10 more"} {
		if !strings.Contains(s, part) {
			t.Errorf("String() lacks %q:\n%s", part, s)
		}
	}
	if s := Stream("w", want, want).String(); s != `stream "w" Ok: got 25 of 25 events` {
		t.Errorf("String() = %q", s)
	}

	// A ground truth listing an event twice is the caller's bug, and says so.
	r = Stream("w", journal, cat(journal, journal[:1]))
	if r.InvalidWant != 1 || r.Count() != 1 || !strings.Contains(r.Violations[0], "ground truth lists event 1 s/a put twice") {
		t.Fatalf("got %v", r)
	}
}

// reconnect is what a watcher that resumes delivers: it disconnects after
// event cut, resumes from the seq of event cut-back (so the stream
// resends some events), and drops the events it has already seen.
func reconnect(want []Event, cut, back int) []Event {
	seen := map[eventID]bool{}
	var got []Event
	for _, seg := range [][]Event{want[:cut], want[cut-back:]} {
		for _, e := range seg {
			if !seen[e.id()] {
				seen[e.id()] = true
				got = append(got, e)
			}
		}
	}
	return got
}

func cat(parts ...[]Event) []Event {
	var all []Event
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}
