package lock_test

import (
	"testing"

	"github.com/sopd/sop/lock"
)

func TestName(t *testing.T) {
	if got := lock.Name("prod", "orders", "9f3a"); got != "prod/orders/9f3a" {
		t.Fatalf("Name = %q", got)
	}
	// Distinct triples give distinct names, whatever the parts hold.
	triples := [][3]string{
		{"a", "b", "c"},
		{"a/b", "c", ""},
		{"a", "b/c", ""},
		{"a", "b", "c/"},
		{"a%2Fb", "c", ""},
		{"", "a", "b"},
		{"a", "", "b"},
		{"a", "b", ""},
		{"a", "b", "d"}, // the same domain, another incarnation
	}
	seen := map[string][3]string{}
	for _, tr := range triples {
		n := lock.Name(tr[0], tr[1], tr[2])
		if prev, ok := seen[n]; ok {
			t.Errorf("Name%q and Name%q are both %q", prev, tr, n)
		}
		seen[n] = tr
	}
}
