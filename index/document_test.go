package index

import (
	"bytes"
	"strings"
	"testing"
)

func TestKey(t *testing.T) {
	tests := []struct {
		name  string
		field string
		doc   string
		want  any
	}{
		{"number", "a", `{"a":31}`, 31},
		{"string", "a", `{"a":"x"}`, "x"},
		{"true", "a", `{"a":true}`, true},
		{"false", "a", `{"a":false}`, false},
		{"null", "a", `{"a":null}`, nil},
		{"missing", "a", `{"b":1}`, nil},
		{"empty object", "a", `{}`, nil},
		{"nested", "a.b.c", `{"a":{"b":{"c":"deep"}}}`, "deep"},
		{"nested missing", "a.b", `{"a":{"c":1}}`, nil},
		{"path through null", "a.b", `{"a":null}`, nil},
		{"path through number", "a.b", `{"a":5}`, nil},
		{"path through string", "a.b", `{"a":"s"}`, nil},
		{"path through bool", "a.b", `{"a":true}`, nil},
		{"dotted member name is not a path", "a.b", `{"a.b":1}`, nil},
		{"white space", "a", " \t\r\n{ \"a\" : 1 } \n", 1},
		{"duplicate member: last wins", "a", `{"a":1,"a":2}`, 2},
		{"1.0 is 1", "a", `{"a":1.0}`, 1},
		{"exponent", "a", `{"a":25e-1}`, 2.5},
		{"-0 is 0", "a", `{"a":-0}`, 0},
		{"underflow is 0", "a", `{"a":-1e-400}`, 0},
		{"large integer rounds", "a", `{"a":9007199254740993}`, 9007199254740992},
		{"escapes", "a", `{"a":"\u0000\n\u00e9"}`, "\x00\né"},
		{"other members may be anything", "a", `{"x":[{"y":[]}],"a":1,"z":{"q":null}}`, 1},
		{"deep nesting elsewhere", "a", `{"a":1,"b":` + strings.Repeat("[", 500) + strings.Repeat("]", 500) + `}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, desc := range []bool{false, true} {
				s := Spec{{Name: tt.field, Desc: desc}}
				got, err := s.Key([]byte(tt.doc))
				if err != nil {
					t.Fatal(err)
				}
				if want := keyOrFail(t, s, []any{tt.want}); !bytes.Equal(got, want) {
					t.Fatalf("desc=%v: key %x, want %x", desc, got, want)
				}
			}
		})
	}
}

func TestKeyErrors(t *testing.T) {
	type spec = Spec
	one := func(name string) Spec { return spec{{Name: name}} }
	tests := []struct {
		name string
		spec Spec
		doc  string
		want string
	}{
		{"empty", one("a"), "", "empty document: want a JSON object"},
		{"blank", one("a"), " \n\t", "empty document"},
		{"array", one("a"), `[{"a":1}]`, "document is an array, not a JSON object"},
		{"string", one("a"), `"a"`, "document is a string, not a JSON object"},
		{"number", one("a"), `12`, "document is a number, not a JSON object"},
		{"null", one("a"), `null`, "document is null, not a JSON object"},
		{"bool", one("a"), `true`, "document is a boolean, not a JSON object"},
		{"unclosed", one("a"), `{"a":1`, "invalid JSON"},
		{"trailing value", one("a"), `{"a":1}{}`, "invalid JSON"},
		{"trailing junk", one("a"), `{"a":1} x`, "invalid JSON"},
		{"garbage", one("a"), `nope`, "invalid JSON"},
		{"bad array", one("a"), `[1,]`, "invalid JSON"},
		{"bad member", one("a"), `{"a":tru}`, "invalid JSON"},
		{"single quotes", one("a"), `{'a':1}`, "invalid JSON"},
		{"object field", one("a"), `{"a":{"b":1}}`,
			`index field "a" is an object: index fields must be strings, numbers, booleans or null`},
		{"nested object field", one("a.b"), `{"a":{"b":{}}}`, `index field "a.b" is an object`},
		{"array field", one("a"), `{"a":[1]}`,
			`index field "a" is an array: index fields must be strings, numbers, booleans or null`},
		{"empty array field", one("a.b"), `{"a":{"b":[]}}`, `index field "a.b" is an array`},
		{"path through array", one("a.b.c"), `{"a":{"b":[{"c":1}]}}`,
			`index field "a.b.c": "a.b" is an array: index fields must be strings, numbers, booleans or null`},
		{"second field", spec{{Name: "a"}, {Name: "b", Desc: true}}, `{"a":1,"b":{}}`, `index field "b" is an object`},
		{"overflow", one("a"), `{"a":1e400}`, `index field "a": number 1e400 is out of float64 range`},
		{"negative overflow", one("a"), `{"a":-2e308}`, `number -2e308 is out of float64 range`},
		{"long", spec{{Name: "a"}, {Name: "b"}}, `{"a":"` + strings.Repeat("x", 4000) + `","b":"` + strings.Repeat("y", 100) + `"}`,
			"key of 4106 bytes, the limit is 4096"},
		{"long escapes", one("a"), `{"a":"` + strings.Repeat(`\u0000`, 2047) + `"}`, "key of 4097 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := tt.spec.Key([]byte(tt.doc))
			if key != nil {
				t.Errorf("key %x with the error", key)
			}
			checkErr(t, err, ErrBadDoc, tt.want)
		})
	}
}
