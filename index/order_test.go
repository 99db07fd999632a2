package index

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sopd/sop/internal/testseed"
)

// TestOrder is the model test: for random specifications and random
// tuples of mixed types, bytes.Compare of keys must agree with the
// reference order (compareTuples) on every pair, and Decode must give back
// the normalised values.
func TestOrder(t *testing.T) {
	seed := testseed.Seed(t)
	g := gen{r: rand.New(rand.NewPCG(seed, 0x1de))}
	for round := range 300 {
		s := g.spec()
		tuples := make([][]any, 50)
		keys := make([][]byte, len(tuples))
		for i := range tuples {
			tuples[i] = g.tuple(len(s))
			keys[i] = keyOrFail(t, s, tuples[i])
			checkDecode(t, s, keys[i], tuples[i])
		}
		for i := range tuples {
			for j := range tuples {
				want := compareTuples(s, tuples[i], tuples[j])
				if got := bytes.Compare(keys[i], keys[j]); got != want {
					t.Fatalf("round %d, spec %v:\n%s\n%s\nbytes.Compare %d, want %d",
						round, s, show(tuples[i]), show(tuples[j]), got, want)
				}
			}
		}
		checkSorted(t, s, tuples, keys)
	}
}

// checkSorted sorts by key and checks the reference order agrees, which
// also catches an inconsistent reference comparator.
func checkSorted(t *testing.T, s Spec, tuples [][]any, keys [][]byte) {
	t.Helper()
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return bytes.Compare(keys[a], keys[b]) })
	for i := 1; i < len(idx); i++ {
		if compareTuples(s, tuples[idx[i-1]], tuples[idx[i]]) > 0 {
			t.Fatalf("spec %v: sorted keys out of order at %d", s, i)
		}
	}
}

// TestKeyMatchesKeyOf: a JSON document holding random values, at nested
// paths and with null fields sometimes left out, gets the key of KeyOf.
func TestKeyMatchesKeyOf(t *testing.T) {
	seed := testseed.Seed(t)
	g := gen{r: rand.New(rand.NewPCG(seed, 0xd0c)), validUTF8: true}
	names := []string{"a", "b", "c.d", "c.e", "f.g.h", "f.i", "j k", "é"}
	for range 2000 {
		s := make(Spec, 1+g.r.IntN(4))
		for i, n := range g.r.Perm(len(names))[:len(s)] {
			s[i] = Field{Name: names[n], Desc: g.r.IntN(2) == 0}
		}
		values := g.tuple(len(s))
		doc := g.document(s, values)
		got, err := s.Key(doc)
		if err != nil {
			t.Fatalf("spec %v, doc %s: %v", s, doc, err)
		}
		if want := keyOrFail(t, s, values); !bytes.Equal(got, want) {
			t.Fatalf("spec %v, doc %s:\nKey   %x\nKeyOf %x", s, doc, got, want)
		}
	}
}

func keyOrFail(t *testing.T, s Spec, values []any) []byte {
	t.Helper()
	key, err := s.KeyOf(values)
	if err != nil {
		t.Fatalf("spec %v, values %s: %v", s, show(values), err)
	}
	return key
}

// checkDecode requires Decode(key) to return the normalised values.
func checkDecode(t *testing.T, s Spec, key []byte, values []any) {
	t.Helper()
	got, err := s.Decode(key)
	if err != nil {
		t.Fatalf("spec %v, values %s: Decode: %v", s, show(values), err)
	}
	want := make([]any, len(values))
	for i, v := range values {
		want[i] = normalise(v)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("spec %v: Decode = %s, want %s", s, show(got), show(want))
	}
}

// normalise maps a value to what Decode returns for it: numbers become
// float64, with -0 as 0.
func normalise(v any) any {
	switch v := v.(type) {
	case nil, bool, string:
		return v
	case float64:
		if v == 0 {
			return 0.0
		}
		return v
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case uint64:
		return float64(v)
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			panic(err)
		}
		return normalise(f)
	}
	panic(fmt.Sprintf("no reference for %T", v))
}

// compareTuples is the reference order of a specification.
func compareTuples(s Spec, a, b []any) int {
	for i, f := range s {
		c := compareValues(a[i], b[i])
		if f.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// compareValues orders null < false < true < numbers < strings; numbers by
// value, strings bytewise.
func compareValues(a, b any) int {
	a, b = normalise(a), normalise(b)
	if c := cmp.Compare(rank(a), rank(b)); c != 0 {
		return c
	}
	switch a := a.(type) {
	case float64:
		return cmp.Compare(a, b.(float64))
	case string:
		return strings.Compare(a, b.(string))
	}
	return 0
}

func rank(v any) int {
	switch v := v.(type) {
	case nil:
		return 0
	case bool:
		if v {
			return 2
		}
		return 1
	case float64:
		return 3
	}
	return 4
}

func show(values []any) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = fmt.Sprintf("%T(%#v)", v, v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// gen makes random specifications, values and documents. Values come from
// small pools often enough that tuples tie on leading fields.
type gen struct {
	r         *rand.Rand
	validUTF8 bool // strings only of valid UTF-8, as JSON documents hold
}

func (g gen) spec() Spec {
	s := make(Spec, 1+g.r.IntN(4))
	for i := range s {
		s[i] = Field{Name: fmt.Sprintf("f%d", i), Desc: g.r.IntN(2) == 0}
	}
	return s
}

func (g gen) tuple(n int) []any {
	values := make([]any, n)
	for i := range values {
		values[i] = g.value()
	}
	return values
}

func (g gen) value() any {
	switch g.r.IntN(8) {
	case 0:
		return nil
	case 1:
		return g.r.IntN(2) == 0
	case 2, 3, 4:
		return g.number()
	}
	return g.string()
}

var poolNumbers = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.5, -0.5, 2, 1e-300, -1e-300, 1 << 53, 1<<53 + 2, -(1 << 53),
	math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64,
	1 << 63, -(1 << 63), math.Nextafter(1, 2), math.Nextafter(1, 0),
}

// number returns a finite number in one of the accepted Go types.
func (g gen) number() any {
	var f float64
	switch g.r.IntN(4) {
	case 0:
		f = poolNumbers[g.r.IntN(len(poolNumbers))]
	case 1:
		f = float64(g.r.IntN(7) - 3)
	case 2:
		f = g.r.NormFloat64() * math.Pow(10, float64(g.r.IntN(40)-20))
	default:
		for f = math.NaN(); math.IsNaN(f) || math.IsInf(f, 0); {
			f = math.Float64frombits(g.r.Uint64())
		}
	}
	return g.numberAs(f)
}

// numberAs picks a Go type that represents f, when one does.
func (g gen) numberAs(f float64) any {
	integral := f == math.Trunc(f) && math.Abs(f) < 1<<62
	switch g.r.IntN(5) {
	case 0:
		if integral {
			return int(f)
		}
	case 1:
		if integral {
			return int64(f)
		}
	case 2:
		if integral && f >= 0 {
			return uint64(f)
		}
	case 3:
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
	}
	return f
}

var poolStrings = []string{"", "a", "ab", "a\x00", "a\x00b", "a\x01", "\x00", "\x00\x00", "b", "é", "\u00ff", "z\U0001F600"}

// poolBytes stresses the escape: 0x00, 0x01, 0xFE and 0xFF.
var poolBytes = []byte{0x00, 0x01, 0x02, 'a', 'b', 0x7f, 0xfe, 0xff}

func (g gen) string() string {
	if g.r.IntN(2) == 0 {
		return poolStrings[g.r.IntN(len(poolStrings))]
	}
	b := make([]byte, g.r.IntN(8))
	for i := range b {
		if g.r.IntN(4) == 0 {
			b[i] = byte(g.r.IntN(256))
		} else {
			b[i] = poolBytes[g.r.IntN(len(poolBytes))]
		}
	}
	if g.validUTF8 && !utf8.Valid(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(b)
}

// document builds a JSON object holding values at the fields' paths, with
// extra members around them and null fields sometimes left out.
func (g gen) document(s Spec, values []any) []byte {
	top := map[string]any{"other": []any{1, "x"}}
	for i, f := range s {
		if values[i] == nil && g.r.IntN(2) == 0 {
			continue
		}
		o := top
		segs := strings.Split(f.Name, ".")
		for _, seg := range segs[:len(segs)-1] {
			next, ok := o[seg].(map[string]any)
			if !ok {
				next = map[string]any{"sibling": map[string]any{}}
				o[seg] = next
			}
			o = next
		}
		o[segs[len(segs)-1]] = values[i]
	}
	doc, err := json.Marshal(top)
	if err != nil {
		panic(err)
	}
	return doc
}
