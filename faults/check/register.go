package check

import (
	"fmt"
	"hash/fnv"
	"sort"

	"github.com/anishathalye/porcupine"
)

// OpKind is what a single-key operation does. The zero value is not a kind.
type OpKind int

const (
	// Get reads the key: Found and Got are the answer.
	Get OpKind = iota + 1
	// Put sets the key to Value.
	Put
	// Delete makes the key absent (whether or not it was present).
	Delete
	// CAS sets the key to Value only if it holds Expect (or, with
	// ExpectAbsent, only if it is absent); Succeeded says whether it did.
	CAS
)

func (k OpKind) valid() bool { return k >= Get && k <= CAS }

func (k OpKind) String() string {
	switch k {
	case Get:
		return "get"
	case Put:
		return "put"
	case Delete:
		return "delete"
	case CAS:
		return "cas"
	}
	return fmt.Sprintf("OpKind(%d)", int(k))
}

// Op is one single-key operation a client sent, with when it was sent and
// when its answer came back, as recorded by the workload.
//
// Operations on different keys are independent: the checker splits the
// history by key and checks each key as its own register.
type Op struct {
	// Client identifies the client that sent the operation, numbered from 0
	// (porcupine draws one lane per client in the visualisation). A client
	// should send one operation at a time; the checker does not require it.
	Client int
	// Key is the register the operation works on.
	Key string
	// Kind is what the operation does.
	Kind OpKind
	// Value is the value a Put writes, or the value a CAS writes when its
	// compare holds. Unused by Get and Delete.
	Value string
	// Expect is the value a CAS compares the key with. Unused unless Kind
	// is CAS and ExpectAbsent is false.
	Expect string
	// ExpectAbsent makes a CAS compare "the key is absent" instead of
	// comparing with Expect (a create-if-absent).
	ExpectAbsent bool
	// Call is when the client sent the operation (unix nanoseconds, from
	// one clock shared by every client of the history).
	Call int64
	// Return is when the client got the answer (unix nanoseconds). It must
	// not be before Call. Ignored when Outcome is Unknown: such an
	// operation may take effect at any time after Call.
	Return int64
	// Outcome is what the client knows about the operation. Failed
	// operations are left out of the check; Unknown ones are kept with no
	// end and no constraint on their answer.
	Outcome Outcome
	// Found is a Get's answer: whether the key was present. Unused for
	// other kinds and when Outcome is not Ok.
	Found bool
	// Got is the value a Get read when Found. Unused otherwise.
	Got string
	// Succeeded is a CAS's answer: whether the compare held and the value
	// was written. Unused for other kinds and when Outcome is not Ok. A CAS
	// whose compare failed may be recorded as Ok with Succeeded false
	// (checked: the key must then not have held Expect) or as Failed
	// (left out): Ok is the stronger check.
	Succeeded bool
}

// regInput is the porcupine input of an Op: what was asked.
type regInput struct {
	kind         OpKind
	key          string
	value        string
	expect       string
	expectAbsent bool
}

// regOutput is the porcupine output of an Op: what came back. With unknown
// set, nothing came back and the other fields mean nothing.
type regOutput struct {
	unknown   bool
	found     bool
	got       string
	succeeded bool
}

// register is the model's state for one key. It is comparable, so
// porcupine's default == is its equality.
type register struct {
	present bool
	value   string
}

// registerModel is a key-value map of registers, partitioned by key so that
// porcupine checks each key on its own.
var registerModel = porcupine.Model{
	Partition: partitionByKey,
	Init:      func() any { return register{} },
	Step: func(state, input, output any) (bool, any) {
		return step(state.(register), input.(regInput), output.(regOutput))
	},
	Hash:                      hashRegister,
	DescribeOperation:         describeOp,
	DescribeState:             describeRegister,
	DescribeOperationMetadata: func(m any) string { return fmt.Sprintf("op #%d", m) },
}

// step applies one operation to a register and says whether its answer is
// possible there. An operation with an unknown outcome is always possible:
// porcupine may place it anywhere after its call, including after every
// other operation, where it is as good as never applied. For a CAS that
// means either answer is accepted: it succeeds where its compare holds and
// is a no-op where it does not.
func step(s register, in regInput, out regOutput) (bool, any) {
	switch in.kind {
	case Get:
		if out.unknown {
			return true, s
		}
		return out.found == s.present && (!out.found || out.got == s.value), s
	case Put:
		return true, register{present: true, value: in.value}
	case Delete:
		return true, register{}
	case CAS:
		holds := in.compareHolds(s)
		if !out.unknown && out.succeeded != holds {
			return false, s
		}
		if holds {
			return true, register{present: true, value: in.value}
		}
		return true, s
	}
	return false, s
}

func (in regInput) compareHolds(s register) bool {
	if in.expectAbsent {
		return !s.present
	}
	return s.present && s.value == in.expect
}

// partitionByKey splits a history by key, keys in sorted order.
func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	for _, op := range history {
		k := op.Input.(regInput).key
		byKey[k] = append(byKey[k], op)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([][]porcupine.Operation, len(keys))
	for i, k := range keys {
		parts[i] = byKey[k]
	}
	return parts
}

func hashRegister(state any) uint64 {
	s := state.(register)
	if !s.present {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(s.value))
	return h.Sum64() | 1
}

func describeRegister(state any) string {
	s := state.(register)
	if !s.present {
		return "absent"
	}
	return fmt.Sprintf("%q", s.value)
}

func describeOp(input, output any) string {
	in, out := input.(regInput), output.(regOutput)
	var call, answer string
	switch in.kind {
	case Get:
		call = fmt.Sprintf("get(%q)", in.key)
		answer = "absent"
		if out.found {
			answer = fmt.Sprintf("%q", out.got)
		}
	case Put:
		call = fmt.Sprintf("put(%q, %q)", in.key, in.value)
	case Delete:
		call = fmt.Sprintf("delete(%q)", in.key)
	case CAS:
		expect := fmt.Sprintf("%q", in.expect)
		if in.expectAbsent {
			expect = "absent"
		}
		call = fmt.Sprintf("cas(%q, %s -> %q)", in.key, expect, in.value)
		answer = "failed"
		if out.succeeded {
			answer = "ok"
		}
	}
	switch {
	case out.unknown:
		return call + " -> ?"
	case answer == "":
		return call
	}
	return call + " -> " + answer
}
