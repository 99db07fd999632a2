package check

import (
	"fmt"
	"strings"
)

// Summary adds up the results of many checks, for the harness's report and
// the figures in docs/RELIABILITY.md. The zero value is empty and ready.
type Summary struct {
	Linearizability LinearizabilityStats
	Bank            BankStats
	Streams         StreamStats
	Convergence     ConvergenceStats
}

// LinearizabilityStats adds up Results.
type LinearizabilityStats struct {
	// Histories is how many histories were checked.
	Histories int
	// Ops, Open, Dropped and Keys add up the Results' fields.
	Ops, Open, Dropped, Keys int
	// Illegal and TimedOut count the keys found illegal or left undecided.
	Illegal, TimedOut int
}

// BankStats adds up BankResults.
type BankStats struct {
	// Runs is how many bank workloads were checked.
	Runs int
	// Transfers, Acknowledged, Failed, Unknown and UnknownApplied add up
	// the BankResults' fields.
	Transfers, Acknowledged, Failed, Unknown, UnknownApplied int
	// Lost and Duplicated count lost acknowledged and duplicated transfers.
	Lost, Duplicated int
	// Violations counts every violation (BankResult.Violations), Lost and
	// Duplicated included.
	Violations int
}

// StreamStats adds up StreamResults.
type StreamStats struct {
	// Watchers is how many watchers were checked.
	Watchers int
	// Events is how many events the watchers should have seen.
	Events int
	// Missing and Duplicates count gaps and events received twice.
	Missing, Duplicates int
	// Violations counts every violation (StreamResult.Count), Missing and
	// Duplicates included.
	Violations int
}

// ConvergenceStats adds up Converged's answers.
type ConvergenceStats struct {
	// Checks is how many times Converged was asked.
	Checks int
	// Diverged is how many times it returned an error (ErrDiverged, or bad
	// input, which also means convergence was not shown).
	Diverged int
}

// AddLinearizable adds a linearizability result.
func (s *Summary) AddLinearizable(r Result) {
	l := &s.Linearizability
	l.Histories++
	l.Ops += r.Ops
	l.Open += r.Open
	l.Dropped += r.Dropped
	l.Keys += r.Keys
	l.Illegal += len(r.IllegalKeys)
	l.TimedOut += len(r.TimedOutKeys)
}

// AddBank adds a bank result.
func (s *Summary) AddBank(r BankResult) {
	b := &s.Bank
	b.Runs++
	b.Transfers += r.Transfers
	b.Acknowledged += r.Acknowledged
	b.Failed += r.Failed
	b.Unknown += r.Unknown
	b.UnknownApplied += r.UnknownApplied
	b.Lost += len(r.Lost)
	b.Duplicated += len(r.Duplicated)
	b.Violations += r.Violations()
}

// AddStream adds a change-stream result.
func (s *Summary) AddStream(r StreamResult) {
	st := &s.Streams
	st.Watchers++
	st.Events += r.Want
	st.Missing += r.Missing
	st.Duplicates += r.Duplicates
	st.Violations += r.Count()
}

// AddConverged adds the answer of Converged.
func (s *Summary) AddConverged(err error) {
	s.Convergence.Checks++
	if err != nil {
		s.Convergence.Diverged++
	}
}

// Violations is how many violations all the checks found. Keys whose
// linearizability check timed out are not violations; see Ok.
func (s Summary) Violations() int {
	return s.Linearizability.Illegal + s.Bank.Violations + s.Streams.Violations + s.Convergence.Diverged
}

// Ok reports whether every check passed: no violation and no key left
// undecided by a timeout (a check that did not finish shows nothing).
func (s Summary) Ok() bool {
	return s.Violations() == 0 && s.Linearizability.TimedOut == 0
}

// rows are the summary's lines: checker, what was checked, violations.
func (s Summary) rows() [][3]string {
	l, b, st, c := s.Linearizability, s.Bank, s.Streams, s.Convergence
	return [][3]string{
		{"linearizability",
			fmt.Sprintf("%d ops on %d keys in %d histories (%d with unknown outcome, %d dropped)", l.Ops, l.Keys, l.Histories, l.Open, l.Dropped),
			fmt.Sprintf("%d illegal keys, %d timed out", l.Illegal, l.TimedOut)},
		{"bank",
			fmt.Sprintf("%d transfers in %d runs (%d acknowledged, %d failed, %d unknown of which %d applied)", b.Transfers, b.Runs, b.Acknowledged, b.Failed, b.Unknown, b.UnknownApplied),
			fmt.Sprintf("%d (%d lost, %d duplicated)", b.Violations, b.Lost, b.Duplicated)},
		{"change streams",
			fmt.Sprintf("%d events on %d watchers", st.Events, st.Watchers),
			fmt.Sprintf("%d (%d gaps, %d duplicates)", st.Violations, st.Missing, st.Duplicates)},
		{"convergence",
			fmt.Sprintf("%d checks", c.Checks),
			fmt.Sprintf("%d diverged", c.Diverged)},
	}
}

// String gives one line per checker: what was checked, then the violations.
func (s Summary) String() string {
	var b strings.Builder
	for i, r := range s.rows() {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s: %s; violations: %s", r[0], r[1], r[2])
	}
	return b.String()
}

// Markdown gives the summary as a Markdown table, for docs/RELIABILITY.md.
func (s Summary) Markdown() string {
	var b strings.Builder
	b.WriteString("| Checker | Checked | Violations |\n|---|---|---|\n")
	for _, r := range s.rows() {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r[0], r[1], r[2])
	}
	return b.String()
}
