package index

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sopd/sop/btree"
	"github.com/sopd/sop/journal"
)

// TestLimits keeps the limits equal to the journal's, which records
// specifications, and the B-tree's, which stores keys.
func TestLimits(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"MaxKeySize vs btree", MaxKeySize, btree.MaxKeySize},
		{"MaxKeySize vs journal", MaxKeySize, journal.MaxKeySize},
		{"MaxFields vs journal.MaxIndexFields", MaxFields, journal.MaxIndexFields},
		{"MaxFieldName vs journal", MaxFieldName, journal.MaxFieldName},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d != %d", c.name, c.got, c.want)
		}
	}
}

func fieldsNamed(n int) Spec {
	s := make(Spec, n)
	for i := range s {
		s[i] = Field{Name: fmt.Sprintf("f%d", i), Desc: i%2 == 1}
	}
	return s
}

func TestValidate(t *testing.T) {
	valid := []Spec{
		{{Name: "a"}},
		{{Name: "a.b.c", Desc: true}, {Name: "a.b"}, {Name: "é"}},
		{{Name: strings.Repeat("x", MaxFieldName)}},
		{{Name: "a b-c_d$"}},
		fieldsNamed(MaxFields),
	}
	for _, s := range valid {
		if err := s.Validate(); err != nil {
			t.Errorf("%v: %v", s, err)
		}
	}
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"nil", nil, "no fields, a specification has 1 to 64"},
		{"empty", Spec{}, "no fields"},
		{"too many", fieldsNamed(MaxFields + 1), "65 fields, the limit is 64"},
		{"empty name", Spec{{Name: "a"}, {Name: ""}}, "field 1: name is empty"},
		{"long name", Spec{{Name: strings.Repeat("x", MaxFieldName+1)}}, "field 0: name of 256 bytes, the limit is 255"},
		{"newline", Spec{{Name: "a\nb"}}, "field 0: name has control character 0x0a at byte 1"},
		{"nul", Spec{{Name: "\x00"}}, "control character 0x00 at byte 0"},
		{"del", Spec{{Name: "ab\x7f"}}, "control character 0x7f at byte 2"},
		{"c1 control", Spec{{Name: "a\u0085"}}, "control character U+0085 at byte 1"},
		{"bad utf8", Spec{{Name: "a\xffb"}}, "name is not valid UTF-8 at byte 1"},
		{"duplicate", Spec{{Name: "a"}, {Name: "b"}, {Name: "a", Desc: true}}, `field 2: duplicate name "a"`},
		{"double dot", Spec{{Name: "a..b"}}, `name "a..b" has an empty path segment`},
		{"leading dot", Spec{{Name: ".a"}}, `name ".a" has an empty path segment`},
		{"trailing dot", Spec{{Name: "a."}}, `name "a." has an empty path segment`},
		{"only dot", Spec{{Name: "."}}, `name "." has an empty path segment`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			checkErr(t, err, ErrBadSpec, tt.want)
		})
	}
}

// TestMethodsValidate: every method rejects an invalid specification.
func TestMethodsValidate(t *testing.T) {
	bad := Spec{{Name: "a"}, {Name: "a"}}
	_, err := bad.Key([]byte(`{}`))
	checkErr(t, err, ErrBadSpec, "duplicate")
	_, err = bad.KeyOf([]any{1, 2})
	checkErr(t, err, ErrBadSpec, "duplicate")
	_, err = bad.Prefix(nil)
	checkErr(t, err, ErrBadSpec, "duplicate")
	_, err = bad.Decode([]byte{tagNull, tagNull})
	checkErr(t, err, ErrBadSpec, "duplicate")
}

// checkErr requires err to wrap sentinel and contain want.
func checkErr(t *testing.T, err, sentinel error, want string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v, want one wrapping %v", err, sentinel)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
}
