package index

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestGolden pins the byte layout documented in the package comment.
func TestGolden(t *testing.T) {
	tests := []struct {
		name   string
		spec   Spec
		values []any
		hex    string
	}{
		{"doc example", Spec{{Name: "age"}, {Name: "name", Desc: true}}, []any{31, "ann"},
			"05c03f000000000000" + "f99e9191fffe"},
		{"every type ascending", fieldsAsc(7), []any{nil, false, true, 0.0, -1, "a\x00b", ""},
			"02" + "03" + "04" + "058000000000000000" + "05400fffffffffffff" + "066100ff620001" + "060001"},
		{"every type descending", fieldsDesc(7), []any{nil, false, true, 0.0, -1, "a\x00b", ""},
			"fd" + "fc" + "fb" + "fa7fffffffffffffff" + "fabff0000000000000" + "f99eff009dfffe" + "f9fffe"},
		{"negative zero is zero", fieldsAsc(1), []any{math.Copysign(0, -1)}, "058000000000000000"},
		{"json number", fieldsAsc(1), []any{json.Number("1e0")}, "05bff0000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := tt.spec.KeyOf(tt.values)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(key); got != tt.hex {
				t.Fatalf("key %s, want %s", got, tt.hex)
			}
		})
	}
	doc := Spec{{Name: "age"}, {Name: "name", Desc: true}}
	key, err := doc.Key([]byte(`{"age":31,"name":"ann"}`))
	if err != nil || hex.EncodeToString(key) != "05c03f000000000000f99e9191fffe" {
		t.Fatalf("Key: %x, %v", key, err)
	}
}

func fieldsAsc(n int) Spec {
	s := fieldsNamed(n)
	for i := range s {
		s[i].Desc = false
	}
	return s
}

func fieldsDesc(n int) Spec {
	s := fieldsNamed(n)
	for i := range s {
		s[i].Desc = true
	}
	return s
}

// TestNumberOrder checks the float transform on the values where it could
// go wrong: around zero, the subnormals, the extremes and integer forms.
func TestNumberOrder(t *testing.T) {
	nums := []any{
		-math.MaxFloat64, -1e300, int64(math.MinInt64), -2.5, -1, -math.SmallestNonzeroFloat64,
		0, math.SmallestNonzeroFloat64, 1e-300, json.Number("0.5"), 1, int64(2), uint64(3),
		1 << 53, uint64(math.MaxUint64), 1e300, math.MaxFloat64,
	}
	for _, desc := range []bool{false, true} {
		s := Spec{{Name: "n", Desc: desc}}
		want := -1
		if desc {
			want = 1
		}
		var prev []byte
		for i, n := range nums {
			key, err := s.KeyOf([]any{n})
			if err != nil {
				t.Fatal(err)
			}
			if i > 0 && bytes.Compare(prev, key) != want {
				t.Fatalf("desc=%v: key of %v is not past key of %v", desc, n, nums[i-1])
			}
			prev = key
		}
	}
}

func TestKeyOfErrors(t *testing.T) {
	s2 := Spec{{Name: "a"}, {Name: "b", Desc: true}}
	long := strings.Repeat("x", MaxKeySize)
	tests := []struct {
		name   string
		values []any
		want   string
	}{
		{"too few", []any{1}, "1 values for a specification of 2 fields"},
		{"too many", []any{1, 2, 3}, "3 values for a specification of 2 fields"},
		{"nil values", nil, "0 values for a specification of 2 fields"},
		{"NaN", []any{1, math.NaN()}, `index field "b": number NaN: NaN and infinities cannot be indexed`},
		{"+Inf", []any{math.Inf(1), 1}, `index field "a": number +Inf`},
		{"-Inf", []any{math.Inf(-1), 1}, `index field "a": number -Inf`},
		{"slice", []any{[]int{1}, 1}, `index field "a": value of type []int: index values are nil, bool, float64, int, int64, uint64, json.Number or string`},
		{"map", []any{1, map[string]any{}}, `index field "b": value of type map[string]interface {}`},
		{"float32", []any{float32(1), 1}, "value of type float32"},
		{"int32", []any{int32(1), 1}, "value of type int32"},
		{"bytes", []any{[]byte("x"), 1}, "value of type []uint8"},
		{"bad json number", []any{json.Number("abc"), 1}, `index field "a": json.Number "abc" is not a JSON number`},
		{"hex json number", []any{json.Number("0x10"), 1}, `json.Number "0x10" is not a JSON number`},
		{"spaced json number", []any{json.Number(" 1"), 1}, `json.Number " 1" is not a JSON number`},
		{"empty json number", []any{json.Number(""), 1}, `json.Number "" is not a JSON number`},
		{"json number Infinity", []any{json.Number("Infinity"), 1}, "is not a JSON number"},
		{"json number overflow", []any{1, json.Number("-1e400")}, `index field "b": number -1e400 is out of float64 range`},
		{"long string", []any{1, long[:MaxKeySize-11]}, "key of 4097 bytes, the limit is 4096"},
		{"huge string", []any{strings.Repeat("x", 1<<20), nil}, "key of 1048580 bytes, the limit is 4096"},
		{"two strings", []any{long[:2100], long[:2100]}, "key of 4206 bytes, the limit is 4096"},
		{"escapes count", []any{nil, strings.Repeat("\x00", 2047)}, "key of 4098 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := s2.KeyOf(tt.values)
			if key != nil {
				t.Errorf("key %x with the error", key)
			}
			checkErr(t, err, ErrBadDoc, tt.want)
		})
	}
}

func TestKeySizeLimit(t *testing.T) {
	s := Spec{{Name: "a"}, {Name: "b", Desc: true}}
	// 9 bytes of number, then 1 + n + 2 of string.
	fit := strings.Repeat("x", MaxKeySize-12)
	key, err := s.KeyOf([]any{1, fit})
	if err != nil || len(key) != MaxKeySize {
		t.Fatalf("key of %d bytes, err %v; want exactly %d", len(key), err, MaxKeySize)
	}
	if _, err := s.Decode(key); err != nil {
		t.Fatalf("Decode of a full-size key: %v", err)
	}
	_, err = s.KeyOf([]any{1, fit + "x"})
	checkErr(t, err, ErrBadDoc, "key of 4097 bytes")
}

// TestAppendKey: AppendKey appends; on error it returns dst as it was.
func TestAppendKey(t *testing.T) {
	s := Spec{{Name: "a"}}
	dst := append(make([]byte, 0, 64), "head"...)
	got, err := s.AppendKey(dst, []any{true})
	if err != nil || string(got) != "head\x04" {
		t.Fatalf("AppendKey = %q, %v", got, err)
	}
	got, err = s.AppendKey(dst, []any{math.NaN()})
	if err == nil || string(got) != "head" || &got[0] != &dst[0] {
		t.Fatalf("AppendKey on error = %q, %v; want dst unchanged", got, err)
	}
	got, err = s.AppendKey(dst, []any{1, 2})
	if err == nil || string(got) != "head" {
		t.Fatalf("AppendKey with a wrong count = %q, %v", got, err)
	}
}

func TestPrefixErrors(t *testing.T) {
	s := Spec{{Name: "a"}, {Name: "b"}}
	_, err := s.Prefix([]any{1, 2, 3})
	checkErr(t, err, ErrBadDoc, "3 values for a prefix of a specification of 2 fields")
	_, err = s.Prefix([]any{math.Inf(1)})
	checkErr(t, err, ErrBadDoc, `index field "a": number +Inf`)
	_, err = s.Prefix([]any{strings.Repeat("y", MaxKeySize)})
	checkErr(t, err, ErrBadDoc, "prefix of 4099 bytes, the limit is 4096")
	p, err := s.Prefix(nil)
	if err != nil || len(p) != 0 {
		t.Fatalf("Prefix(nil) = %x, %v; want empty", p, err)
	}
}

// TestPrefix: a key starts with a prefix exactly when its leading values
// equal the prefix's values.
func TestPrefix(t *testing.T) {
	s := Spec{{Name: "a"}, {Name: "b", Desc: true}, {Name: "c"}}
	pool := []any{nil, false, true, 0, -1, 2.5, "", "a", "a\x00", "ab", "\xff"}
	var tuples [][]any
	for _, a := range pool {
		for _, b := range pool {
			tuples = append(tuples, []any{a, b, "z"})
		}
	}
	keys := make([][]byte, len(tuples))
	for i, tu := range tuples {
		var err error
		if keys[i], err = s.KeyOf(tu); err != nil {
			t.Fatal(err)
		}
	}
	for _, tu := range tuples {
		for n := 0; n <= len(s); n++ {
			p, err := s.Prefix(tu[:n])
			if err != nil {
				t.Fatal(err)
			}
			for j, other := range tuples {
				same := compareTuples(s[:n], tu[:n], other[:n]) == 0
				if bytes.HasPrefix(keys[j], p) != same {
					t.Fatalf("prefix of %q: key of %q starts with it: %v, leading values equal: %v",
						tu[:n], other, !same, same)
				}
			}
		}
	}
}
