package check

import (
	"errors"
	"strings"
	"testing"
)

func TestConverged(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hashes map[string]string
		want   error  // nil, or the sentinel
		words  string // in the error
	}{
		{"one node", map[string]string{"n1": "7:ab12"}, nil, ""},
		{"equal", map[string]string{"n1": "42:deadbeef", "n2": "42:deadbeef", "n3": "42:DEADBEEF"}, nil, ""},
		{"same seq, different hashes", map[string]string{"n1": "42:aa", "n2": "42:bb", "n3": "42:aa"}, ErrDiverged,
			`(same seq, different state hashes): n1,n3 at 42:aa; n2 at 42:bb`},
		{"different seqs", map[string]string{"n1": "42:aa", "n2": "41:aa"}, ErrDiverged,
			`(nodes at different seqs): n2 at 41:aa; n1 at 42:aa`},
		{"no nodes", nil, ErrNoHashes, ""},
		{"no colon", map[string]string{"n1": "42:aa", "n2": "42"}, ErrMalformedHash, `node "n2"`},
		{"no hash", map[string]string{"n1": "42:"}, ErrMalformedHash, ""},
		{"bad seq", map[string]string{"n1": "x:aa"}, ErrMalformedHash, "seq"},
		{"bad hash", map[string]string{"n1": "1:xyz"}, ErrMalformedHash, "hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Converged(tc.hashes)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.words) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.want, tc.words)
			}
		})
	}
}

func TestDivergedError(t *testing.T) {
	err := Converged(map[string]string{"n1": "3:aa", "n2": "3:bb"})
	var d *DivergedError
	if !errors.As(err, &d) || !d.SameSeq || len(d.States) != 2 || d.States["3:bb"][0] != "n2" {
		t.Fatalf("got %#v", err)
	}
}
