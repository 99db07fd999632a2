package check

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestBank(t *testing.T) {
	initial := map[string]int64{"a": 100, "b": 100, "c": 100}
	transfers := []Transfer{
		{ID: "t1", From: "a", To: "b", Amount: 10, Outcome: Ok},
		{ID: "t2", From: "b", To: "c", Amount: 20, Outcome: Ok},
		{ID: "t3", From: "c", To: "a", Amount: 30, Outcome: Failed},
		{ID: "t4", From: "a", To: "c", Amount: 40, Outcome: Unknown},
		{ID: "t5", From: "b", To: "a", Amount: 50, Outcome: Unknown},
	}
	// After t1, t2 and t4 (t5 did not land).
	final := map[string]int64{"a": 50, "b": 90, "c": 160}
	applied := map[string]int{"t1": 1, "t2": 1, "t4": 1}

	type edit func(tr []Transfer, final map[string]int64, applied map[string]int) []Transfer
	negative := func(tr []Transfer, f map[string]int64, ap map[string]int) []Transfer {
		ap["t6"] = 1
		f["a"] -= 200
		f["b"] += 200
		return append(tr, Transfer{ID: "t6", From: "a", To: "b", Amount: 200, Outcome: Ok})
	}
	for _, tc := range []struct {
		name       string
		edit       edit
		opts       []BankOption
		list       func(r BankResult) []string // the list that must report the violation
		want       []string
		violations int
		after      int64 // the final total
	}{
		{"exactly once", nil, nil, nil, nil, 0, 300},
		{"duplicated transfer", func(tr []Transfer, f map[string]int64, ap map[string]int) []Transfer {
			ap["t1"] = 2
			f["a"] -= 10
			f["b"] += 10
			return tr
		}, nil, func(r BankResult) []string { return r.Duplicated }, []string{"t1"}, 1, 300},
		{"duplicated unknown transfer", func(tr []Transfer, f map[string]int64, ap map[string]int) []Transfer {
			ap["t4"] = 2
			f["a"] -= 40
			f["c"] += 40
			return tr
		}, nil, func(r BankResult) []string { return r.Duplicated }, []string{"t4"}, 1, 300},
		{"lost acknowledged transfer", func(tr []Transfer, f map[string]int64, ap map[string]int) []Transfer {
			delete(ap, "t2")
			f["b"] += 20
			f["c"] -= 20
			return tr
		}, nil, func(r BankResult) []string { return r.Lost }, []string{"t2"}, 1, 300},
		{"failed transfer applied", func(tr []Transfer, f map[string]int64, ap map[string]int) []Transfer {
			ap["t3"] = 1
			f["c"] -= 30
			f["a"] += 30
			return tr
		}, nil, func(r BankResult) []string { return r.FailedApplied }, []string{"t3"}, 1, 300},
		{"changed total", func(tr []Transfer, f map[string]int64, ap map[string]int) []Transfer {
			f["b"] += 5
			return tr
		}, nil, func(r BankResult) []string { return r.Mismatched }, []string{"b"}, 2, 305},
		{"marker without its balances", func(tr []Transfer, f map[string]int64, ap map[string]int) []Transfer {
			ap["t5"] = 1
			return tr
		}, nil, func(r BankResult) []string { return r.Mismatched }, []string{"a", "b"}, 2, 300},
		{"phantom transfer", func(tr []Transfer, f map[string]int64, ap map[string]int) []Transfer {
			ap["t9"] = 1
			return tr
		}, nil, func(r BankResult) []string { return r.Phantom }, []string{"t9"}, 1, 300},
		{"negative balance allowed", negative, nil, nil, nil, 0, 300},
		{"negative balance forbidden", negative, []BankOption{ForbidNegative()},
			func(r BankResult) []string { return r.Negative }, []string{"a"}, 1, 300},
		{"invalid input", func(tr []Transfer, f map[string]int64, ap map[string]int) []Transfer {
			delete(f, "c")
			f["d"] = 160
			return append(tr, Transfer{ID: "t1", From: "a", To: "b", Amount: 0})
		}, nil, func(r BankResult) []string { return r.Invalid }, []string{
			`account "c" missing from the final balances`,
			`account "d" missing from the initial balances`,
			`transfer "t1" sent twice`,
			`transfer "t1": amount 0`,
			`transfer "t1": outcome Outcome(0)`,
		}, 6, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, f, ap := slices.Clone(transfers), clone(final), clone(applied)
			if tc.edit != nil {
				tr = tc.edit(tr, f, ap)
			}
			r := Bank(initial, tr, f, ap, tc.opts...)
			if r.Violations() != tc.violations || r.Ok() != (tc.violations == 0) {
				t.Fatalf("%d violations, want %d: %v", r.Violations(), tc.violations, r)
			}
			if r.TotalBefore != 300 || r.TotalAfter != tc.after {
				t.Fatalf("totals %d -> %d, want 300 -> %d", r.TotalBefore, r.TotalAfter, tc.after)
			}
			if tc.list == nil {
				return
			}
			if got := tc.list(r); !slices.Equal(got, tc.want) {
				t.Fatalf("reported %q, want %q: %v", got, tc.want, r)
			}
			for _, id := range tc.want {
				if !strings.Contains(r.String(), fmt.Sprintf("%q", id)) {
					t.Errorf("String() does not name %q: %s", id, r)
				}
			}
		})
	}
}

func TestBankReport(t *testing.T) {
	initial := map[string]int64{"a": 100, "b": 100}
	transfers := []Transfer{
		{ID: "ok", From: "a", To: "b", Amount: 1, Outcome: Ok},
		{ID: "lost", From: "a", To: "b", Amount: 2, Outcome: Ok},
		{ID: "dup", From: "b", To: "a", Amount: 3, Outcome: Ok},
		{ID: "failed", From: "a", To: "b", Amount: 4, Outcome: Failed},
		{ID: "maybe", From: "a", To: "b", Amount: 5, Outcome: Unknown},
		{ID: "unset", From: "a", To: "b", Amount: 6},
	}
	applied := map[string]int{"ok": 1, "dup": 2, "maybe": 1, "ghost": 1}
	// ok, dup twice and maybe applied; then 7 more appeared in b.
	final := map[string]int64{"a": 100 - 1 + 6 - 5, "b": 100 + 1 - 6 + 5 + 7}
	r := Bank(initial, transfers, final, applied)
	want := BankResult{
		Transfers: 6, Acknowledged: 3, Failed: 1, Unknown: 1, UnknownApplied: 1,
		TotalBefore: 200, TotalAfter: 207,
		Lost:       []string{"lost"},
		Duplicated: []string{"dup"},
		Phantom:    []string{"ghost"},
		Mismatched: []string{"b"},
		Invalid:    []string{`transfer "unset": outcome Outcome(0)`},
	}
	if fmt.Sprintf("%+v", r) != fmt.Sprintf("%+v", want) {
		t.Fatalf("got  %+v\nwant %+v", r, want)
	}
	if r.Violations() != 6 {
		t.Fatalf("Violations() = %d, want 6", r.Violations())
	}
	s := r.String()
	for _, part := range []string{"bank 6 violations", "total 200 -> 207", `1 lost acknowledged: "lost"`, `1 duplicated: "dup"`, `1 phantom: "ghost"`} {
		if !strings.Contains(s, part) {
			t.Errorf("String() lacks %q: %s", part, s)
		}
	}
}

func clone[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
