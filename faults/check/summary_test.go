package check

import (
	"strings"
	"testing"
)

func TestSummary(t *testing.T) {
	var s Summary
	if !s.Ok() || s.Violations() != 0 {
		t.Fatalf("empty summary: %v", s)
	}
	s.AddLinearizable(Result{Ops: 10, Open: 2, Dropped: 1, Keys: 3})
	s.AddLinearizable(Result{Verdict: Illegal, Ops: 5, Keys: 2, IllegalKeys: []string{"x"}})
	s.AddBank(BankResult{Transfers: 4, Acknowledged: 2, Failed: 1, Unknown: 1, UnknownApplied: 1,
		Lost: []string{"t1"}, TotalBefore: 10, TotalAfter: 9})
	s.AddStream(StreamResult{Want: 7, Missing: 1, Duplicates: 2, Extra: 1})
	s.AddStream(StreamResult{Want: 3})
	s.AddConverged(nil)
	s.AddConverged(ErrDiverged)

	want := Summary{
		Linearizability: LinearizabilityStats{Histories: 2, Ops: 15, Open: 2, Dropped: 1, Keys: 5, Illegal: 1},
		Bank:            BankStats{Runs: 1, Transfers: 4, Acknowledged: 2, Failed: 1, Unknown: 1, UnknownApplied: 1, Lost: 1, Violations: 2},
		Streams:         StreamStats{Watchers: 2, Events: 10, Missing: 1, Duplicates: 2, Violations: 4},
		Convergence:     ConvergenceStats{Checks: 2, Diverged: 1},
	}
	if s != want {
		t.Fatalf("got  %+v\nwant %+v", s, want)
	}
	if s.Violations() != 8 || s.Ok() {
		t.Fatalf("Violations() = %d, Ok() = %v", s.Violations(), s.Ok())
	}
	for _, part := range []string{
		"linearizability: 15 ops on 5 keys in 2 histories (2 with unknown outcome, 1 dropped); violations: 1 illegal keys, 0 timed out",
		"bank: 4 transfers in 1 runs (2 acknowledged, 1 failed, 1 unknown of which 1 applied); violations: 2 (1 lost, 0 duplicated)",
		"change streams: 10 events on 2 watchers; violations: 4 (1 gaps, 2 duplicates)",
		"convergence: 2 checks; violations: 1 diverged",
	} {
		if !strings.Contains(s.String(), part) {
			t.Errorf("String() lacks %q:\n%s", part, s)
		}
	}
	md := s.Markdown()
	if !strings.HasPrefix(md, "| Checker | Checked | Violations |\n|---|---|---|\n| linearizability | 15 ops") || strings.Count(md, "\n") != 6 {
		t.Errorf("Markdown() =\n%s", md)
	}

	// A timed-out check is not a violation, but not a pass either.
	var timedOut Summary
	timedOut.AddLinearizable(Result{Verdict: TimedOut, Ops: 1, Keys: 1, TimedOutKeys: []string{"x"}})
	if timedOut.Violations() != 0 || timedOut.Ok() {
		t.Fatalf("timed out: %d violations, Ok() = %v", timedOut.Violations(), timedOut.Ok())
	}
}
