package check

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Verdict is the answer of a linearizability check. The zero value is not
// a verdict, so that a zero Result is not mistaken for a pass.
type Verdict int

const (
	// Legal: the history is linearizable.
	Legal Verdict = iota + 1
	// Illegal: some key's history is not linearizable.
	Illegal
	// TimedOut: no key is known to be illegal, but the time ran out before
	// every key was checked.
	TimedOut
)

func (v Verdict) String() string {
	switch v {
	case Legal:
		return "Ok"
	case Illegal:
		return "Illegal"
	case TimedOut:
		return "Unknown (timed out)"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// Result is the answer of Linearizable.
type Result struct {
	// Verdict is Illegal if any key is illegal, else TimedOut if any key
	// timed out, else Legal.
	Verdict Verdict
	// Ops is how many operations were checked: all but the Dropped ones.
	Ops int
	// Open is how many of the checked operations had an Unknown outcome
	// (kept with no end and no constraint on their answer).
	Open int
	// Dropped is how many operations were left out because they had no
	// effect to check: Failed ones, and Gets with an Unknown outcome.
	Dropped int
	// Keys is how many keys the checked operations touched.
	Keys int
	// IllegalKeys are the keys whose history is not linearizable, sorted.
	IllegalKeys []string
	// TimedOutKeys are the keys not decided before the timeout, sorted.
	TimedOutKeys []string
	// Visualization is the path of the HTML visualisation written for the
	// illegal and timed-out keys, or "" if none was written.
	Visualization string
}

// Ok reports whether the history was found linearizable.
func (r Result) Ok() bool { return r.Verdict == Legal }

func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "linearizability %s: %d ops (%d with unknown outcome, %d dropped) on %d keys",
		r.Verdict, r.Ops, r.Open, r.Dropped, r.Keys)
	if len(r.IllegalKeys) > 0 {
		fmt.Fprintf(&b, "; illegal keys: %s", quoteList(r.IllegalKeys, maxListed))
	}
	if len(r.TimedOutKeys) > 0 {
		fmt.Fprintf(&b, "; timed out keys: %s", quoteList(r.TimedOutKeys, maxListed))
	}
	if r.Visualization != "" {
		fmt.Fprintf(&b, "; visualisation: %s", r.Visualization)
	}
	return b.String()
}

// Linearizable checks that a history of single-key operations is
// linearizable: that each key behaves as one register on which every
// operation took effect at one instant between its call and its return.
//
// Failed operations are dropped. That is sound because their failure is
// certain: an operation that took no effect constrains nothing, so leaving
// it out can hide no violation. (It would not be sound for an operation
// that might have landed: a write that did land and is dropped would make a
// later read of it look like a read of a value never written.) Gets with an
// Unknown outcome are dropped too: they change nothing and their answer is
// not known. Other Unknown operations are kept, the way porcupine's users
// (etcd, Jepsen's Knossos) handle them: their return is moved past every
// other operation and their answer is unconstrained, so they may take
// effect at any point after their call, or in effect never.
//
// Each key is checked on its own (porcupine's partition by key), several at
// a time. timeout bounds the whole check (0: no bound); keys not decided in
// time are reported as timed out. With no timeout the result depends only
// on ops.
//
// When the verdict is not Legal and visualizeTo is not "", the history of
// the illegal and timed-out keys is written there as porcupine's HTML
// visualisation (a second check of those keys, bounded by timeout again).
//
// The error is ErrInvalidOp for a malformed operation, or the failure to
// write the visualisation (with the result of the check).
func Linearizable(ops []Op, timeout time.Duration, visualizeTo string) (Result, error) {
	parts, keys, res, err := partition(ops)
	if err != nil {
		return Result{}, err
	}
	var bad []porcupine.Operation
	for i, v := range checkKeys(parts, timeout) {
		switch v {
		case porcupine.Illegal:
			res.IllegalKeys = append(res.IllegalKeys, keys[i])
		case porcupine.Unknown:
			res.TimedOutKeys = append(res.TimedOutKeys, keys[i])
		default:
			continue
		}
		bad = append(bad, parts[i]...)
	}
	res.Verdict = Legal
	switch {
	case len(res.IllegalKeys) > 0:
		res.Verdict = Illegal
	case len(res.TimedOutKeys) > 0:
		res.Verdict = TimedOut
	}
	if res.Verdict == Legal || visualizeTo == "" {
		return res, nil
	}
	_, info := porcupine.CheckOperationsVerbose(registerModel, bad, timeout)
	if err := porcupine.VisualizePath(registerModel, info, visualizeTo); err != nil {
		return res, fmt.Errorf("write visualisation: %w", err)
	}
	res.Visualization = visualizeTo
	return res, nil
}

// partition validates ops and turns them into porcupine operations, one
// slice per key, keys sorted. The result has its counts filled in.
func partition(ops []Op) ([][]porcupine.Operation, []string, Result, error) {
	var res Result
	if err := validate(ops); err != nil {
		return nil, nil, res, err
	}
	end := infinity(ops)
	var history []porcupine.Operation
	for i, op := range ops {
		if op.Outcome == Failed || op.Outcome == Unknown && op.Kind == Get {
			res.Dropped++
			continue
		}
		if op.Outcome == Unknown {
			res.Open++
		}
		history = append(history, op.operation(i, end))
	}
	parts := partitionByKey(history)
	keys := make([]string, len(parts))
	for i, p := range parts {
		keys[i] = p[0].Input.(regInput).key
	}
	res.Ops, res.Keys = len(history), len(keys)
	return parts, keys, res, nil
}

func validate(ops []Op) error {
	for i, op := range ops {
		var why string
		switch {
		case !op.Kind.valid():
			why = fmt.Sprintf("kind %v", op.Kind)
		case !op.Outcome.valid():
			why = fmt.Sprintf("outcome %v", op.Outcome)
		case op.Client < 0:
			why = fmt.Sprintf("client %d", op.Client)
		case op.Outcome != Unknown && op.Return < op.Call:
			why = fmt.Sprintf("return %d before call %d", op.Return, op.Call)
		default:
			continue
		}
		return fmt.Errorf("op %d (%s %q): %s: %w", i, op.Kind, op.Key, why, ErrInvalidOp)
	}
	return nil
}

// infinity is a time after every call and return of ops: the return given
// to operations with an Unknown outcome.
func infinity(ops []Op) int64 {
	var last int64 = math.MinInt64
	for _, op := range ops {
		last = max(last, op.Call)
		if op.Outcome != Unknown {
			last = max(last, op.Return)
		}
	}
	if last == math.MaxInt64 {
		return last
	}
	return last + 1
}

// operation is op as porcupine sees it; index is its place in the history
// handed to Linearizable, shown in the visualisation.
func (op Op) operation(index int, infinity int64) porcupine.Operation {
	in := regInput{kind: op.Kind, key: op.Key, value: op.Value, expect: op.Expect, expectAbsent: op.ExpectAbsent}
	out := regOutput{unknown: true}
	ret := infinity
	if op.Outcome == Ok {
		out = regOutput{found: op.Found, got: op.Got, succeeded: op.Succeeded}
		ret = op.Return
	}
	return porcupine.Operation{ClientId: op.Client, Input: in, Call: op.Call, Output: out, Return: ret, Metadata: index}
}

// checkKeys checks each key's history, as many at once as there are CPUs,
// all within one deadline.
func checkKeys(parts [][]porcupine.Operation, timeout time.Duration) []porcupine.CheckResult {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	verdicts := make([]porcupine.CheckResult, len(parts))
	slots := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, part := range parts {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			verdicts[i] = checkKey(part, deadline)
		})
	}
	wg.Wait()
	return verdicts
}

func checkKey(part []porcupine.Operation, deadline time.Time) porcupine.CheckResult {
	if deadline.IsZero() {
		return porcupine.CheckOperationsTimeout(registerModel, part, 0)
	}
	left := time.Until(deadline)
	if left <= 0 {
		return porcupine.Unknown
	}
	return porcupine.CheckOperationsTimeout(registerModel, part, left)
}

// maxListed is how many keys, ids or violations a String lists before
// saying how many more there are.
const maxListed = 10

// quoteList lists up to n strings, quoted, and how many were left out.
func quoteList(s []string, n int) string {
	sorted := append([]string(nil), s...)
	sort.Strings(sorted)
	var b strings.Builder
	for i, v := range sorted {
		if i == n {
			fmt.Fprintf(&b, " and %d more", len(sorted)-n)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", v)
	}
	return b.String()
}
