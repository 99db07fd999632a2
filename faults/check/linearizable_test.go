package check

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sopd/sop/internal/testseed"
)

// Helpers that build acknowledged operations on key k by client c over
// [call, ret]; unknown and failed turn them into the other outcomes.

func put(c int, k, v string, call, ret int64) Op {
	return Op{Client: c, Key: k, Kind: Put, Value: v, Call: call, Return: ret, Outcome: Ok}
}

func del(c int, k string, call, ret int64) Op {
	return Op{Client: c, Key: k, Kind: Delete, Call: call, Return: ret, Outcome: Ok}
}

func get(c int, k, v string, call, ret int64) Op {
	return Op{Client: c, Key: k, Kind: Get, Found: true, Got: v, Call: call, Return: ret, Outcome: Ok}
}

func getAbsent(c int, k string, call, ret int64) Op {
	return Op{Client: c, Key: k, Kind: Get, Call: call, Return: ret, Outcome: Ok}
}

func cas(c int, k, expect, v string, succeeded bool, call, ret int64) Op {
	return Op{Client: c, Key: k, Kind: CAS, Expect: expect, Value: v, Succeeded: succeeded, Call: call, Return: ret, Outcome: Ok}
}

func casAbsent(c int, k, v string, succeeded bool, call, ret int64) Op {
	return Op{Client: c, Key: k, Kind: CAS, ExpectAbsent: true, Value: v, Succeeded: succeeded, Call: call, Return: ret, Outcome: Ok}
}

func unknown(op Op) Op {
	op.Outcome, op.Return, op.Succeeded, op.Found, op.Got = Unknown, 0, false, false, ""
	return op
}

func failed(op Op) Op {
	op.Outcome = Failed
	return op
}

func TestLinearizable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ops     []Op
		illegal []string // nil: the history is linearizable
	}{
		{"empty", nil, nil},
		{"sequential", []Op{
			getAbsent(0, "x", 0, 5),
			put(0, "x", "a", 10, 20),
			get(1, "x", "a", 30, 40),
			del(0, "x", 50, 60),
			getAbsent(1, "x", 70, 80),
		}, nil},
		{"read concurrent with write sees old or new", []Op{
			put(0, "x", "a", 0, 100),
			getAbsent(1, "x", 10, 20),
			get(2, "x", "a", 30, 40),
			get(1, "x", "a", 50, 60),
		}, nil},
		{"concurrent puts in either order", []Op{
			put(0, "x", "a", 0, 100),
			put(1, "x", "b", 0, 100),
			get(2, "x", "a", 10, 20),
			get(2, "x", "b", 30, 40),
			get(2, "x", "b", 150, 160),
		}, nil},
		{"closed intervals: touching ops are concurrent", []Op{
			put(0, "x", "a", 0, 10),
			getAbsent(1, "x", 10, 20),
		}, nil},
		{"unknown put that applied", []Op{
			unknown(put(0, "x", "a", 0, 0)),
			get(1, "x", "a", 10, 20),
		}, nil},
		{"unknown put that did not apply", []Op{
			unknown(put(0, "x", "a", 0, 0)),
			getAbsent(1, "x", 10, 20),
			getAbsent(1, "x", 30, 40),
		}, nil},
		{"unknown put that applied late", []Op{
			unknown(put(0, "x", "a", 0, 0)),
			put(1, "x", "b", 10, 20),
			get(1, "x", "b", 30, 40),
			get(1, "x", "a", 50, 60),
		}, nil},
		{"unknown delete and get", []Op{
			put(0, "x", "a", 0, 10),
			unknown(del(0, "x", 20, 0)),
			unknown(get(2, "x", "zzz", 25, 0)),
			get(1, "x", "a", 30, 40),
			getAbsent(1, "x", 50, 60),
		}, nil},
		{"failed put is dropped", []Op{
			failed(put(0, "x", "a", 0, 10)),
			getAbsent(1, "x", 20, 30),
		}, nil},
		{"cas chain", []Op{
			put(0, "x", "0", 0, 10),
			cas(0, "x", "0", "1", true, 20, 30),
			cas(1, "x", "1", "2", true, 40, 50),
			cas(2, "x", "1", "3", false, 60, 70),
			failed(cas(2, "x", "1", "3", false, 75, 78)),
			get(1, "x", "2", 80, 90),
		}, nil},
		{"concurrent cas: one wins", []Op{
			put(0, "x", "0", 0, 10),
			cas(1, "x", "0", "a", true, 20, 40),
			cas(2, "x", "0", "b", false, 20, 40),
			get(0, "x", "a", 50, 60),
		}, nil},
		{"create if absent", []Op{
			casAbsent(0, "x", "a", true, 0, 10),
			casAbsent(1, "x", "b", false, 20, 30),
			get(1, "x", "a", 40, 50),
		}, nil},
		{"unknown cas that succeeded", []Op{
			put(0, "x", "a", 0, 10),
			unknown(cas(0, "x", "a", "b", false, 20, 0)),
			get(1, "x", "b", 30, 40),
		}, nil},
		{"unknown cas that failed", []Op{
			put(0, "x", "a", 0, 10),
			unknown(cas(0, "x", "a", "b", false, 20, 0)),
			get(1, "x", "a", 30, 40),
			get(1, "x", "a", 50, 60),
		}, nil},
		{"keys are independent", []Op{
			put(0, "x", "a", 0, 10),
			put(1, "y", "b", 0, 10),
			get(2, "x", "a", 20, 30),
			get(2, "y", "b", 20, 30),
		}, nil},

		{"stale read after a completed write", []Op{
			put(0, "x", "a", 0, 10),
			put(0, "x", "b", 20, 30),
			get(1, "x", "a", 40, 50),
		}, []string{"x"}},
		{"lost acknowledged write", []Op{
			put(0, "x", "a", 0, 10),
			getAbsent(1, "x", 20, 30),
		}, []string{"x"}},
		{"lost acknowledged delete", []Op{
			put(0, "x", "a", 0, 10),
			del(0, "x", 20, 30),
			get(1, "x", "a", 40, 50),
		}, []string{"x"}},
		{"cas succeeded twice on the same expected value", []Op{
			put(0, "x", "a", 0, 10),
			cas(1, "x", "a", "b", true, 20, 40),
			cas(2, "x", "a", "c", true, 20, 40),
		}, []string{"x"}},
		{"create if absent succeeded twice", []Op{
			casAbsent(1, "x", "a", true, 0, 10),
			casAbsent(2, "x", "b", true, 20, 30),
		}, []string{"x"}},
		{"cas failed although its compare held", []Op{
			put(0, "x", "a", 0, 10),
			cas(1, "x", "a", "b", false, 20, 30),
		}, []string{"x"}},
		{"read of a value never written", []Op{
			put(0, "x", "a", 0, 10),
			get(1, "x", "z", 20, 30),
		}, []string{"x"}},
		{"read from nothing", []Op{
			get(1, "x", "a", 0, 10),
		}, []string{"x"}},
		{"unknown put seen before it was sent", []Op{
			get(1, "x", "a", 0, 10),
			unknown(put(0, "x", "a", 20, 0)),
		}, []string{"x"}},
		{"failed put seen", []Op{
			failed(put(0, "x", "a", 0, 10)),
			get(1, "x", "a", 20, 30),
		}, []string{"x"}},
		{"only the bad keys are named", []Op{
			put(0, "x", "a", 0, 10),
			get(1, "x", "a", 20, 30),
			put(0, "y", "a", 0, 10),
			getAbsent(1, "y", 20, 30),
			put(0, "z", "a", 0, 10),
			get(1, "z", "b", 20, 30),
		}, []string{"y", "z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Linearizable(tc.ops, 0, "")
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.illegal == nil; r.Ok() != want {
				t.Fatalf("Ok() = %v, want %v: %v", r.Ok(), want, r)
			}
			if tc.illegal != nil && (r.Verdict != Illegal || !slices.Equal(r.IllegalKeys, tc.illegal)) {
				t.Fatalf("got %v, want illegal keys %q", r, tc.illegal)
			}
			if r.Visualization != "" || len(r.TimedOutKeys) > 0 {
				t.Fatalf("got %v", r)
			}
		})
	}
}

func TestLinearizableCounts(t *testing.T) {
	ops := []Op{
		put(0, "x", "a", 0, 10),
		failed(put(0, "x", "b", 20, 30)),
		unknown(put(0, "y", "c", 20, 0)),
		unknown(get(1, "y", "c", 25, 0)),
		unknown(cas(1, "z", "c", "d", false, 40, 0)),
		get(1, "x", "a", 40, 50),
	}
	r, err := Linearizable(ops, time.Minute, "")
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Verdict: Legal, Ops: 4, Open: 2, Dropped: 2, Keys: 3}
	if fmt.Sprint(r) != fmt.Sprint(want) {
		t.Fatalf("got %+v, want %+v", r, want)
	}
	if s := r.String(); !strings.Contains(s, "Ok: 4 ops (2 with unknown outcome, 2 dropped) on 3 keys") {
		t.Fatalf("String() = %q", s)
	}
}

func TestLinearizableInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   Op
	}{
		{"no kind", Op{Key: "x", Outcome: Ok}},
		{"no outcome", Op{Key: "x", Kind: Get}},
		{"negative client", Op{Client: -1, Key: "x", Kind: Get, Outcome: Ok}},
		{"return before call", put(0, "x", "a", 10, 5)},
		{"failed, return before call", failed(put(0, "x", "a", 10, 5))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops := []Op{put(0, "x", "a", 0, 1), tc.op}
			_, err := Linearizable(ops, 0, "")
			if !errors.Is(err, ErrInvalidOp) || !strings.Contains(err.Error(), "op 1 ") {
				t.Fatalf("err = %v, want ErrInvalidOp for op 1", err)
			}
		})
	}
	// An unknown outcome has no return to check.
	if _, err := Linearizable([]Op{unknown(put(0, "x", "a", 10, 0))}, 0, ""); err != nil {
		t.Fatal(err)
	}
}

func TestLinearizableVisualization(t *testing.T) {
	dir := t.TempDir()
	illegal := []Op{
		put(0, "x", "a", 0, 10),
		put(0, "x", "b", 20, 30),
		get(1, "x", "a", 40, 50),
		unknown(cas(1, "x", "b", "c", false, 60, 0)),
		put(0, "y", "a", 0, 10),
		get(1, "y", "a", 20, 30),
	}
	path := filepath.Join(dir, "illegal.html")
	r, err := Linearizable(illegal, 0, path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Visualization != path || !strings.Contains(r.String(), path) {
		t.Fatalf("got %v, want the visualisation at %s", r, path)
	}
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The visualisation holds the illegal key's operations, not the others.
	for _, want := range []string{"<html", `get(\"x\") -\u003e \"a\"`, `cas(\"x\", \"b\" -\u003e \"c\") -\u003e ?`, "op #2"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("visualisation lacks %s", want)
		}
	}
	if strings.Contains(string(html), `get(\"y\")`) {
		t.Errorf("visualisation shows the legal key y")
	}

	legal := filepath.Join(dir, "legal.html")
	r, err = Linearizable(illegal[4:], 0, legal)
	if err != nil || !r.Ok() || r.Visualization != "" {
		t.Fatalf("got %v, %v", r, err)
	}
	if _, err := os.Stat(legal); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a legal history was visualised: %v", err)
	}

	r, err = Linearizable(illegal, 0, filepath.Join(dir, "no", "such", "dir.html"))
	if err == nil || r.Verdict != Illegal || r.Visualization != "" {
		t.Fatalf("got %v, %v; want the write error and the verdict", r, err)
	}
}

func TestLinearizableTimeout(t *testing.T) {
	ops := []Op{put(0, "x", "a", 0, 10), get(1, "x", "a", 20, 30)}
	// A nanosecond is over before any key is checked.
	path := filepath.Join(t.TempDir(), "timeout.html")
	r, err := Linearizable(ops, time.Nanosecond, path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != TimedOut || !slices.Equal(r.TimedOutKeys, []string{"x"}) || r.Ok() || r.Visualization != path {
		t.Fatalf("got %v, want x timed out", r)
	}
}

// TestLinearizableRandom builds histories from a simulated register, where
// each operation takes effect at a point inside its interval, so they are
// linearizable by construction; then a read of a value never written must
// make them illegal.
func TestLinearizableRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 8))
	for round := range 20 {
		ops := simulate(rng, 200, 4, 4)
		r, err := Linearizable(ops, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		if !r.Ok() {
			t.Fatalf("round %d: a simulated history is not linearizable: %v", round, r)
		}
		i := corruptRead(rng, ops)
		if i < 0 {
			continue
		}
		r, err = Linearizable(ops, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != Illegal || !slices.Equal(r.IllegalKeys, []string{ops[i].Key}) {
			t.Fatalf("round %d: op %d reads a value never written, got %v", round, i, r)
		}
	}
}

// simulate runs n operations of clients clients on keys keys against an
// in-memory map. Operation i takes effect at time 100*i; its call and
// return are up to 250 before and after, so neighbours overlap. Some
// outcomes are lost (Unknown) whether or not the operation applied, and
// some writes fail without applying.
func simulate(rng *rand.Rand, n, clients, keys int) []Op {
	state := map[string]string{}
	var ops []Op
	for i := range n {
		at := int64(100 * (i + 1))
		op := Op{
			Client:  rng.IntN(clients),
			Key:     fmt.Sprintf("k%d", rng.IntN(keys)),
			Kind:    OpKind(1 + rng.IntN(4)),
			Value:   fmt.Sprintf("v%d", i),
			Call:    at - rng.Int64N(250),
			Return:  at + rng.Int64N(250),
			Outcome: Ok,
		}
		cur, present := state[op.Key]
		apply := true
		switch op.Kind {
		case Get:
			op.Found, op.Got = present, cur
		case CAS:
			op.ExpectAbsent = rng.IntN(4) == 0
			op.Expect = cur
			if rng.IntN(3) == 0 {
				op.Expect = fmt.Sprintf("v%d", rng.IntN(i+1))
			}
			op.Succeeded = op.compareHolds(cur, present)
			apply = op.Succeeded
		}
		switch rng.IntN(10) {
		case 0:
			op.Outcome = Unknown
			apply = apply && rng.IntN(2) == 0
		case 1:
			if op.Kind != Get {
				op.Outcome, apply = Failed, false
			}
		}
		if apply && (op.Kind == Put || op.Kind == CAS) {
			state[op.Key] = op.Value
		}
		if apply && op.Kind == Delete {
			delete(state, op.Key)
		}
		ops = append(ops, op)
	}
	return ops
}

func (op Op) compareHolds(cur string, present bool) bool {
	if op.ExpectAbsent {
		return !present
	}
	return present && cur == op.Expect
}

// corruptRead makes one acknowledged Get read a value never written and
// returns its index, or -1 if there is none.
func corruptRead(rng *rand.Rand, ops []Op) int {
	var gets []int
	for i, op := range ops {
		if op.Kind == Get && op.Outcome == Ok {
			gets = append(gets, i)
		}
	}
	if len(gets) == 0 {
		return -1
	}
	i := gets[rng.IntN(len(gets))]
	ops[i].Found, ops[i].Got = true, "never written"
	return i
}
