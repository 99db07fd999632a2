package check

import (
	"fmt"
	"sort"
	"strings"
)

// Transfer is one transfer a bank workload sent: move Amount from account
// From to account To, in one transaction that also writes a marker for ID
// (so that the end of the run can tell how many times it took effect).
type Transfer struct {
	// ID names the transfer; unique within a run.
	ID string
	// From and To are the accounts debited and credited.
	From, To string
	// Amount is how much moves; positive.
	Amount int64
	// Outcome is what the client knows about the transfer.
	Outcome Outcome
}

// BankOption changes what Bank checks.
type BankOption func(*bankOptions)

type bankOptions struct {
	forbidNegative bool
}

// ForbidNegative makes a negative final balance a violation, for workloads
// whose transfers check the balance before debiting.
func ForbidNegative() BankOption {
	return func(o *bankOptions) { o.forbidNegative = true }
}

// BankResult is the answer of Bank. Every list is sorted.
type BankResult struct {
	// Transfers counts the transfers by outcome; Transfers is their total.
	Transfers, Acknowledged, Failed, Unknown int
	// UnknownApplied is how many Unknown transfers took effect (once).
	UnknownApplied int
	// TotalBefore and TotalAfter are the sums of the initial and final
	// balances.
	TotalBefore, TotalAfter int64
	// Lost are the acknowledged transfers that took no effect.
	Lost []string
	// Duplicated are the transfers (any outcome) that took effect more than
	// once.
	Duplicated []string
	// FailedApplied are the Failed transfers that took effect anyway.
	FailedApplied []string
	// Phantom are ids that appear applied but were never sent.
	Phantom []string
	// Mismatched are the accounts whose final balance is not their initial
	// balance plus the transfers that appear applied (counted as often as
	// they appear): a transfer's marker and its balances disagree.
	Mismatched []string
	// Negative are the accounts with a negative final balance, when
	// ForbidNegative was given.
	Negative []string
	// Invalid describes malformed input (an unset outcome, an id sent
	// twice, an amount that is not positive, an account missing from the
	// initial or final balances); the other checks go on regardless.
	Invalid []string
}

// Violations is how many violations were found; malformed input counts.
func (r BankResult) Violations() int {
	n := len(r.Lost) + len(r.Duplicated) + len(r.FailedApplied) + len(r.Phantom) +
		len(r.Mismatched) + len(r.Negative) + len(r.Invalid)
	if r.TotalBefore != r.TotalAfter {
		n++
	}
	return n
}

// Ok reports whether no violation was found.
func (r BankResult) Ok() bool { return r.Violations() == 0 }

func (r BankResult) String() string {
	var b strings.Builder
	verdict := "Ok"
	if !r.Ok() {
		verdict = fmt.Sprintf("%d violations", r.Violations())
	}
	fmt.Fprintf(&b, "bank %s: %d transfers (%d acknowledged, %d failed, %d unknown of which %d applied); total %d -> %d",
		verdict, r.Transfers, r.Acknowledged, r.Failed, r.Unknown, r.UnknownApplied, r.TotalBefore, r.TotalAfter)
	for _, l := range []struct {
		what string
		ids  []string
	}{
		{"lost acknowledged", r.Lost},
		{"duplicated", r.Duplicated},
		{"failed but applied", r.FailedApplied},
		{"phantom", r.Phantom},
		{"mismatched accounts", r.Mismatched},
		{"negative accounts", r.Negative},
		{"invalid input", r.Invalid},
	} {
		if len(l.ids) > 0 {
			fmt.Fprintf(&b, "; %d %s: %s", len(l.ids), l.what, quoteList(l.ids, maxListed))
		}
	}
	return b.String()
}

// Bank checks a bank workload for serializability at the end of a run:
//
//   - the total of the balances is constant;
//   - every acknowledged (Ok) transfer took effect exactly once, every
//     Failed one never, and every Unknown one at most once;
//   - every transfer that appears applied was sent;
//   - each account's final balance is its initial balance plus the effect
//     of the transfers that appear applied;
//   - with ForbidNegative, no final balance is negative.
//
// initial and final map accounts to balances; applied maps a transfer id to
// how many times it appears applied (e.g. from its marker key, read at the
// end); a missing id counts as zero.
func Bank(initial map[string]int64, transfers []Transfer, final map[string]int64, applied map[string]int, opts ...BankOption) BankResult {
	var o bankOptions
	for _, opt := range opts {
		opt(&o)
	}
	var r BankResult
	r.TotalBefore, r.TotalAfter = sum(initial), sum(final)
	r.checkTransfers(transfers, applied)
	r.checkBalances(initial, transfers, final, applied)
	if o.forbidNegative {
		for acct, bal := range final {
			if bal < 0 {
				r.Negative = append(r.Negative, acct)
			}
		}
	}
	for _, l := range [][]string{r.Lost, r.Duplicated, r.FailedApplied, r.Phantom, r.Mismatched, r.Negative, r.Invalid} {
		sort.Strings(l)
	}
	return r
}

// checkTransfers compares each transfer's outcome with how many times it
// appears applied.
func (r *BankResult) checkTransfers(transfers []Transfer, applied map[string]int) {
	sent := map[string]bool{}
	for _, t := range transfers {
		if sent[t.ID] {
			r.Invalid = append(r.Invalid, fmt.Sprintf("transfer %q sent twice", t.ID))
		}
		sent[t.ID] = true
		if t.Amount <= 0 {
			r.Invalid = append(r.Invalid, fmt.Sprintf("transfer %q: amount %d", t.ID, t.Amount))
		}
		r.Transfers++
		n := applied[t.ID]
		if n > 1 {
			r.Duplicated = append(r.Duplicated, t.ID)
		}
		switch t.Outcome {
		case Ok:
			r.Acknowledged++
			if n == 0 {
				r.Lost = append(r.Lost, t.ID)
			}
		case Failed:
			r.Failed++
			if n > 0 {
				r.FailedApplied = append(r.FailedApplied, t.ID)
			}
		case Unknown:
			r.Unknown++
			if n == 1 {
				r.UnknownApplied++
			}
		default:
			r.Invalid = append(r.Invalid, fmt.Sprintf("transfer %q: outcome %v", t.ID, t.Outcome))
		}
	}
	for id, n := range applied {
		if n > 0 && !sent[id] {
			r.Phantom = append(r.Phantom, id)
		}
	}
}

// checkBalances replays the transfers that appear applied on the initial
// balances and compares with the final ones.
func (r *BankResult) checkBalances(initial map[string]int64, transfers []Transfer, final map[string]int64, applied map[string]int) {
	want := make(map[string]int64, len(initial))
	for acct, bal := range initial {
		want[acct] = bal
		if _, ok := final[acct]; !ok {
			r.Invalid = append(r.Invalid, fmt.Sprintf("account %q missing from the final balances", acct))
		}
	}
	for acct := range final {
		if _, ok := initial[acct]; !ok {
			r.Invalid = append(r.Invalid, fmt.Sprintf("account %q missing from the initial balances", acct))
		}
	}
	seen := map[string]bool{}
	for _, t := range transfers {
		if seen[t.ID] {
			continue
		}
		seen[t.ID] = true
		n := int64(max(applied[t.ID], 0))
		want[t.From] -= n * t.Amount
		want[t.To] += n * t.Amount
	}
	for acct, bal := range want {
		if final[acct] != bal {
			r.Mismatched = append(r.Mismatched, acct)
		}
	}
}

func sum(balances map[string]int64) int64 {
	var s int64
	for _, b := range balances {
		s += b
	}
	return s
}
