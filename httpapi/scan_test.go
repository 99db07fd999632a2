package httpapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
)

// page is a scan answer.
type page struct {
	Items []item
	Next  *string
}

// scanAll pages through a scan of store s with query, limit items at a
// time, and returns the keys in order and the number of pages.
func scanAll(e *env, s, query string, limit int) ([]string, int) {
	e.t.Helper()
	var keys []string
	cursor := ""
	for pages := 1; ; pages++ {
		path := fmt.Sprintf("/v1/domains/default/stores/%s/items?limit=%d&%s", s, limit, query)
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		var p page
		e.must(http.StatusOK, "GET", path, nil).decode(e.t, &p)
		if len(p.Items) > limit {
			e.t.Fatalf("page of %d items with limit %d", len(p.Items), limit)
		}
		for _, it := range p.Items {
			k, err := strconv.Unquote(string(it.Key))
			if err != nil {
				e.t.Fatal(err)
			}
			keys = append(keys, k)
		}
		if p.Next == nil {
			return keys, pages
		}
		if len(p.Items) == 0 {
			e.t.Fatal("an empty page with a next cursor")
		}
		cursor = *p.Next
	}
}

// TestScanPaging: 250 items paged forwards and backwards in every page
// size visit each key once, in order; next is null at the end.
func TestScanPaging(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	var want []string
	for i := range 250 {
		k := fmt.Sprintf("k%03d", i)
		want = append(want, k)
	}
	// One transaction writes them all, in an order unlike the key order.
	var ops []map[string]any
	for i := range want {
		k := want[(i*7)%250]
		ops = append(ops, map[string]any{"op": "put", "store": "s", "key": k, "value": map[string]string{"k": k}})
	}
	e.must(http.StatusOK, "POST", "/v1/domains/default/txn", map[string]any{"success": ops})

	for _, limit := range []int{1, 7, 100, 249, 250, 1000} {
		got, pages := scanAll(e, "s", "", limit)
		wantPages := (250 + limit - 1) / limit // the last page knows it is the last
		checkKeys(t, fmt.Sprintf("forward limit %d", limit), got, want)
		if pages != wantPages {
			t.Errorf("limit %d: %d pages, want %d", limit, pages, wantPages)
		}
		got, _ = scanAll(e, "s", "reverse=true", limit)
		checkKeys(t, fmt.Sprintf("reverse limit %d", limit), got, reversed(want))
	}
	got, _ := scanAll(e, "s", "prefix=k1", 30)
	checkKeys(t, "prefix k1", got, want[100:200])
	got, _ = scanAll(e, "s", "start=k050&end=k060&reverse=true", 3)
	checkKeys(t, "reverse k050-k060", got, reversed(want[50:60]))
	got, _ = scanAll(e, "s", "prefix=k2&start=k150&end=k205", 4)
	checkKeys(t, "prefix k2 within k150-k205", got, want[200:205])
	got, _ = scanAll(e, "s", "start=k300", 10)
	checkKeys(t, "after the last key", got, nil)
	got, _ = scanAll(e, "s", "start=k100&end=k050", 10)
	checkKeys(t, "start after end", got, nil)
	// Items carry values and versions.
	var p page
	e.must(http.StatusOK, "GET", "/v1/domains/default/stores/s/items?limit=1", nil).decode(t, &p)
	if len(p.Items) != 1 || string(p.Items[0].Value) != `{"k":"k000"}` || p.Items[0].Version == 0 || p.Next == nil {
		t.Errorf("first page %+v", p)
	}
}

// TestScanEndsAtLastPage: a scan that fits its page has next null.
func TestScanEndsAtLastPage(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	var p page
	e.must(http.StatusOK, "GET", "/v1/domains/default/stores/s/items", nil).decode(t, &p)
	if p.Items == nil || len(p.Items) != 0 || p.Next != nil {
		t.Fatalf("empty store scanned as %+v", p)
	}
	e.put("s", "a", `1`)
	e.put("s", "b", `2`)
	for _, limit := range []string{"2", "3"} {
		e.must(http.StatusOK, "GET", "/v1/domains/default/stores/s/items?limit="+limit, nil).decode(t, &p)
		if len(p.Items) != 2 || p.Next != nil {
			t.Fatalf("limit %s: page %+v, want 2 items and next null", limit, p)
		}
	}
	e.must(http.StatusOK, "GET", "/v1/domains/default/stores/s/items?limit=1", nil).decode(t, &p)
	if len(p.Items) != 1 || p.Next == nil {
		t.Fatalf("limit 1: page %+v, want 1 item and a next cursor", p)
	}
}

// TestScanByteBudget: a page ends early once it holds MaxBodySize bytes,
// and next goes on from there.
func TestScanByteBudget(t *testing.T) {
	e := newEnv(t, Options{MaxBodySize: 1000})
	e.store("s", nil)
	for i := range 10 {
		e.put("s", fmt.Sprintf("k%d", i), fmt.Sprintf(`"%0300d"`, i))
	}
	var p page
	e.must(http.StatusOK, "GET", "/v1/domains/default/stores/s/items", nil).decode(t, &p)
	if len(p.Items) == 0 || len(p.Items) == 10 || p.Next == nil {
		t.Fatalf("page of %d items, next %v: want a short page", len(p.Items), p.Next)
	}
	got, _ := scanAll(e, "s", "", 100)
	if len(got) != 10 {
		t.Fatalf("paged %d items, want 10", len(got))
	}
}

// TestBadCursors: garbled cursors and cursors reused with other
// parameters are 400 bad_cursor.
func TestBadCursors(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	e.store("t", nil)
	for i := range 5 {
		e.put("s", fmt.Sprintf("a%d", i), `1`)
	}
	var p page
	e.must(http.StatusOK, "GET", "/v1/domains/default/stores/s/items?limit=2&prefix=a", nil).decode(t, &p)
	if p.Next == nil {
		t.Fatal("no next cursor")
	}
	c := *p.Next
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		t.Fatalf("cursor %q is not base64url: %v", c, err)
	}
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	bad := map[string]string{
		"not base64":     "s/items?limit=2&prefix=a&cursor=" + url.QueryEscape("!!!"),
		"empty":          "s/items?limit=2&prefix=a&cursor=",
		"too short":      "s/items?limit=2&prefix=a&cursor=AQ",
		"flipped key":    "s/items?limit=2&prefix=a&cursor=" + flip(len(raw)-1),
		"flipped check":  "s/items?limit=2&prefix=a&cursor=" + flip(3),
		"flipped flags":  "s/items?limit=2&prefix=a&cursor=" + flip(1),
		"version 2":      "s/items?limit=2&prefix=a&cursor=" + flip(0),
		"other prefix":   "s/items?limit=2&prefix=b&cursor=" + c,
		"no prefix":      "s/items?limit=2&cursor=" + c,
		"added start":    "s/items?limit=2&prefix=a&start=a1&cursor=" + c,
		"other store":    "t/items?limit=2&prefix=a&cursor=" + c,
		"other reverse":  "s/items?limit=2&prefix=a&reverse=true&cursor=" + c,
		"garbage base64": "s/items?limit=2&prefix=a&cursor=" + base64.RawURLEncoding.EncodeToString([]byte("hello world, a cursor")),
	}
	for name, path := range bad {
		t.Run(name, func(t *testing.T) {
			e.with(t).fails(http.StatusBadRequest, "bad_cursor", "GET", "/v1/domains/default/stores/"+path, nil)
		})
	}
	// The same cursor with another limit is fine.
	e.must(http.StatusOK, "GET", "/v1/domains/default/stores/s/items?limit=3&prefix=a&cursor="+c, nil).decode(t, &p)
	if len(p.Items) != 3 || string(p.Items[0].Key) != `"a2"` {
		t.Fatalf("resumed page %+v", p)
	}
}

// checkKeys fails the test unless got equals want.
func checkKeys(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d keys, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: key %d is %q, want %q", what, i, got[i], want[i])
		}
	}
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}
