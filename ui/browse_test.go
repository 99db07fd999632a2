package ui_test

import (
	"fmt"
	"strings"
	"testing"
)

// waitKeys waits until the items table is loaded and shows exactly want,
// in that order.
func waitKeys(p *page, want ...string) {
	p.t.Helper()
	p.until("keys "+strings.Join(want, ","), fmt.Sprintf(`document.querySelector('#items[data-state="ready"]') &&
		JSON.stringify([...document.querySelectorAll("#items td.key")].map((e) => e.textContent)) === %s`, js(jsonList(want))))
}

// jsonList is want as a JSON array of strings.
func jsonList(want []string) string {
	q := make([]string, len(want))
	for i, s := range want {
		q[i] = js(s)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// keyRange is k<from>..k<to-1>, two digits.
func keyRange(from, to int) []string {
	var ks []string
	for i := from; i < to; i++ {
		ks = append(ks, fmt.Sprintf("k%02d", i))
	}
	return ks
}

// TestUIPrefixAndRange: in a plain store, a prefix search and a key range
// (from inclusive, to exclusive) find what they name; a prefix search
// pages forwards and backwards at the chosen page size; descending lists
// the keys from the last; Clear shows the whole store again.
func TestUIPrefixAndRange(t *testing.T) {
	n := newNode(t, "", "")
	n.createStore("keys")
	all := append([]string{"a1", "a2", "a3", "b1", "b2", "c1"}, keyRange(0, 25)...)
	for _, k := range all {
		n.put("keys", k, `{"k":`+js(k)+`}`)
	}
	p := newPage(t)
	p.open(n, "#/d/default/s/keys")
	p.waitText("#page-info", "items 1–31 (last page)")

	p.typeIn("#prefix", "a")
	p.click("#search-btn")
	waitKeys(p, "a1", "a2", "a3")
	p.waitText("#page-info", "items 1–3 (last page)")

	p.setValue("#prefix", "")
	p.typeIn("#start", "a2")
	p.typeIn("#end", "b2")
	p.click("#search-btn")
	waitKeys(p, "a2", "a3", "b1")

	// A prefix search pages at the chosen size, keeping its prefix.
	p.setValue("#start", "")
	p.setValue("#end", "")
	p.setValue("#prefix", "k")
	p.setValue("#limit", "10")
	p.click("#search-btn")
	waitKeys(p, keyRange(0, 10)...)
	p.waitText("#page-info", "Page 1 · items 1–10")
	p.click("#next")
	waitKeys(p, keyRange(10, 20)...)
	p.click("#next")
	waitKeys(p, keyRange(20, 25)...)
	p.waitText("#page-info", "Page 3 · items 21–25 (last page)")
	p.click("#prev")
	waitKeys(p, keyRange(10, 20)...)
	p.waitText("#page-info", "Page 2 · items 11–20")

	// Clear: the whole store, first page size again.
	p.click("#reset-btn")
	waitKeys(p, all...)
	if v := eval[string](p, `document.querySelector("#limit").value`); v != "50" {
		t.Errorf("page size after Clear: %s, want 50", v)
	}

	p.click("#reverse")
	p.click("#search-btn")
	p.until("descending", `document.querySelector('#items[data-state="ready"]') &&
		document.querySelector("#items td.key")?.textContent === "k24"`)
	if keys := p.texts("#items td.key"); len(keys) != len(all) || keys[len(keys)-1] != "a1" {
		t.Errorf("descending: %d keys, last %q; want %d ending with a1", len(keys), keys[len(keys)-1], len(all))
	}
}
