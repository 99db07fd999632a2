package index

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"strings"
	"testing"
)

// numberKey is tag 0x05 and the ordered bits of f, as a hex string: a way
// to spell numbers KeyOf refuses to write.
func numberKey(f float64) string {
	return "05" + hex.EncodeToString(binary.BigEndian.AppendUint64(nil, orderedBits(f)))
}

func TestDecodeErrors(t *testing.T) {
	asc := Spec{{Name: "a"}}
	desc := Spec{{Name: "d", Desc: true}}
	two := Spec{{Name: "a"}, {Name: "b", Desc: true}}
	tests := []struct {
		name string
		spec Spec
		hex  string
		want string
	}{
		{"empty", asc, "", `field 0 ("a") at byte 0: key ends before the field`},
		{"missing second field", two, "02", `field 1 ("b") at byte 1: key ends before the field`},
		{"tag 0x00", asc, "00", "unknown tag 0x00"},
		{"tag 0x01", asc, "01", "unknown tag 0x01"},
		{"tag 0x07", asc, "07", "unknown tag 0x07"},
		{"tag 0xff", asc, "ff", "unknown tag 0xff"},
		{"descending tag in ascending field", asc, "fd", "unknown tag 0xfd"},
		{"ascending tag in descending field", desc, "02", "unknown tag 0x02"},
		{"tag 0xfe descending", desc, "fe", "unknown tag 0xfe"},
		{"short number", asc, "05800000", "number truncated"},
		{"number without body", two, "0205", `field 1 ("b") at byte 1: unknown tag 0x05`},
		{"short descending number", desc, "fa7fffffffffffff", "number truncated"},
		{"negative zero", asc, "057fffffffffffffff", "number -0: keys hold it as 0"},
		{"negative zero descending", desc, "fa8000000000000000", "number -0"},
		{"NaN", asc, numberKey(math.NaN()), "number NaN"},
		{"+Inf", asc, numberKey(math.Inf(1)), "number +Inf"},
		{"-Inf", asc, numberKey(math.Inf(-1)), "number -Inf"},
		{"negative NaN", asc, "050007ffffffffffff", "number NaN"},
		{"string without terminator", asc, "066162", "string without terminator"},
		{"string ends in escape", asc, "066100", "string without terminator"},
		{"empty string body", asc, "06", "string without terminator"},
		{"bad escape", asc, "06610002", "bad escape 0x00 0x02 at byte 2"},
		{"escape then nothing after nul", asc, "0600ff", "string without terminator"},
		{"descending bad escape", desc, "f99eff05", "bad escape 0xff 0x05 at byte 2"},
		{"descending terminator unflipped", desc, "f99e0001", "string without terminator"},
		{"trailing byte", asc, "0202", "1 trailing bytes at byte 1"},
		{"trailing after string", asc, "06610001ff", "1 trailing bytes at byte 4"},
		{"trailing field", two, "02fdfd", "1 trailing bytes at byte 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := hex.DecodeString(tt.hex)
			if err != nil {
				t.Fatal(err)
			}
			values, err := tt.spec.Decode(key)
			if values != nil {
				t.Errorf("values %v with the error", values)
			}
			checkErr(t, err, ErrBadKey, tt.want)
		})
	}
	_, err := asc.Decode([]byte("\x06" + strings.Repeat("x", MaxKeySize)))
	checkErr(t, err, ErrBadKey, "key of 4097 bytes, the limit is 4096")
}

// TestDecodeDoesNotAlias: decoded strings stay put when the key changes.
func TestDecodeDoesNotAlias(t *testing.T) {
	s := Spec{{Name: "a"}}
	key := keyOrFail(t, s, []any{"abc"})
	values, err := s.Decode(key)
	if err != nil {
		t.Fatal(err)
	}
	key[1] = 'z'
	if values[0] != "abc" {
		t.Fatalf("decoded %q after changing the key", values[0])
	}
}
