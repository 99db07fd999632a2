package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/sopd/sop"
)

// TestItemRoundTrip: every kind of JSON value comes back as written.
func TestItemRoundTrip(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	values := []string{
		`{"x":1,"y":[true,false,null],"z":{"w":"<&>"}}`,
		`"a string with \"quotes\" and \u00e9"`,
		`42`, `-1.5e300`, `true`, `false`, `null`, `[]`, `{}`, `"<b>&amp;</b>"`,
	}
	for i, v := range values {
		key := "k" + strconv.Itoa(i)
		seq := e.put("s", key, v)
		it := e.get("s", key)
		if string(it.Value) != v {
			t.Errorf("value %s came back as %s", v, it.Value)
		}
		if it.Version != seq || string(it.Key) != strconv.Quote(key) {
			t.Errorf("item %s: key %s version %d, want %q version %d", v, it.Key, it.Version, key, seq)
		}
	}
	// White space is kept in storage; the answer holds the same JSON.
	e.put("s", "spaced", " { \"a\" : [ 1 , 2 ] } \n")
	if got := e.get("s", "spaced").Value; string(got) != `{"a":[1,2]}` {
		t.Errorf("spaced value came back as %s", got)
	}
	// Overwrite and delete.
	seq := e.put("s", "k0", `"new"`)
	if it := e.get("s", "k0"); string(it.Value) != `"new"` || it.Version != seq {
		t.Errorf("after overwrite: %s version %d, want \"new\" version %d", it.Value, it.Version, seq)
	}
	var del writeAnswer
	e.must(http.StatusOK, "DELETE", itemPath("s", "k0"), nil).decode(t, &del)
	if del.Seq <= seq {
		t.Errorf("delete seq %d, want > %d", del.Seq, seq)
	}
	e.fails(http.StatusNotFound, "key_not_found", "GET", itemPath("s", "k0"), nil)
	// Deleting an absent item is not an error.
	e.must(http.StatusOK, "DELETE", itemPath("s", "never"), nil)
}

// TestKeysInPaths: keys with '/', dots, spaces, '?', '#', '%' and
// non-ASCII characters are addressed by their percent-encoding, and come
// back unescaped.
func TestKeysInPaths(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	keys := []string{"a/b", "/", "//x//", "..", ".", "../etc/passwd", "a b", "q?x=1", "h#f", "100%", "é/ü", "日本", "+plus", strings.Repeat("k", DefaultMaxKeySize)}
	for i, key := range keys {
		v := strconv.Itoa(i)
		e.put("s", key, v)
		it := e.get("s", key)
		if string(it.Key) != strconv.Quote(key) || string(it.Value) != v {
			t.Errorf("key %q: got key %s value %s", key, it.Key, it.Value)
		}
	}
	// The mux did not split "a/b": there is no item "a" or "b".
	e.fails(http.StatusNotFound, "key_not_found", "GET", itemPath("s", "a"), nil)
	// A raw slash is a different path, not the key "a/b".
	e.fails(http.StatusNotFound, "not_found", "GET", "/v1/domains/default/stores/s/items/a/b", nil)
	var page struct{ Items []item }
	e.must(http.StatusOK, "GET", "/v1/domains/default/stores/s/items?limit=1000", nil).decode(t, &page)
	if len(page.Items) != len(keys) {
		t.Errorf("scan found %d items, want %d", len(page.Items), len(keys))
	}
}

// TestConditionalWrites: if_absent and if_version either write or answer
// 409 condition_failed and write nothing.
func TestConditionalWrites(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	p := itemPath("s", "k")
	var first writeAnswer
	e.must(http.StatusOK, "PUT", p+"?if_absent=true", `1`).decode(t, &first)
	e.fails(http.StatusConflict, "condition_failed", "PUT", p+"?if_absent=true", `2`)
	e.fails(http.StatusConflict, "condition_failed", "PUT", p+"?if_version="+strconv.FormatUint(first.Seq+100, 10), `3`)
	if v := e.get("s", "k"); string(v.Value) != "1" || v.Version != first.Seq {
		t.Fatalf("after failed conditions: %s version %d, want 1 version %d", v.Value, v.Version, first.Seq)
	}
	var second writeAnswer
	e.must(http.StatusOK, "PUT", p+"?if_version="+strconv.FormatUint(first.Seq, 10), `4`).decode(t, &second)
	e.fails(http.StatusConflict, "condition_failed", "DELETE", p+"?if_version="+strconv.FormatUint(first.Seq, 10), nil)
	e.must(http.StatusOK, "DELETE", p+"?if_version="+strconv.FormatUint(second.Seq, 10), nil)
	e.fails(http.StatusNotFound, "key_not_found", "GET", p, nil)
	e.fails(http.StatusConflict, "condition_failed", "PUT", p+"?if_version=1", `5`)
	e.fails(http.StatusBadRequest, "bad_param", "PUT", p+"?if_version=0", `5`)
	e.fails(http.StatusBadRequest, "bad_param", "PUT", p+"?if_version=1&if_absent=true", `5`)
	e.fails(http.StatusBadRequest, "bad_param", "DELETE", p+"?if_absent=true", nil)
	e.must(http.StatusOK, "PUT", p+"?if_absent=false", `6`)
}

// TestIdempotencyKey: a write retried with the same Idempotency-Key is
// answered with the first seq and not applied twice.
func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	var a, b writeAnswer
	e.must(http.StatusOK, "PUT", itemPath("s", "k"), `1`, "Idempotency-Key", "req-1").decode(t, &a)
	e.put("s", "k", `2`)
	e.must(http.StatusOK, "PUT", itemPath("s", "k"), `1`, "Idempotency-Key", "req-1").decode(t, &b)
	if !b.AlreadyCommitted || b.Seq != a.Seq || a.AlreadyCommitted {
		t.Fatalf("retry answered %+v after %+v: want already_committed at seq %d", b, a, a.Seq)
	}
	if v := e.get("s", "k"); string(v.Value) != "2" {
		t.Fatalf("the retry was applied again: value %s", v.Value)
	}
	e.fails(http.StatusBadRequest, "bad_txn", "PUT", itemPath("s", "k"), `1`, "Idempotency-Key", "has space")
}

// TestNonJSONThroughGoAPI: keys that are not UTF-8 and values that are
// not JSON, written through the Go API, come back in base64.
func TestNonJSONThroughGoAPI(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	_, err := e.db.Update(context.Background(), "default", func(tx *sop.Tx) error {
		if err := tx.Put("s", []byte{0xff, 0xfe}, []byte("not json")); err != nil {
			return err
		}
		return tx.Put("s", []byte("empty"), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	var page struct{ Items []item }
	e.must(http.StatusOK, "GET", "/v1/domains/default/stores/s/items", nil).decode(t, &page)
	if len(page.Items) != 2 {
		t.Fatalf("%d items, want 2", len(page.Items))
	}
	empty, binary := page.Items[0], page.Items[1]
	if string(empty.Key) != `"empty"` || empty.Value != nil || empty.ValueBase64 == nil || *empty.ValueBase64 != "" {
		t.Errorf("empty value answered as %+v", empty)
	}
	if binary.Key != nil || binary.KeyBase64 != base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe}) ||
		binary.ValueBase64 == nil || *binary.ValueBase64 != base64.StdEncoding.EncodeToString([]byte("not json")) {
		t.Errorf("binary item answered as %+v", binary)
	}
}

// TestKeyLimits: empty, too long and non-UTF-8 keys; values and bodies
// over their limits.
func TestKeyLimits(t *testing.T) {
	e := newEnv(t, Options{MaxKeySize: 10, MaxValueSize: 100, MaxBodySize: 1000})
	e.store("s", nil)
	e.put("s", strings.Repeat("k", 10), `1`)
	e.fails(http.StatusRequestEntityTooLarge, "too_large", "PUT", itemPath("s", strings.Repeat("k", 11)), `1`)
	e.fails(http.StatusRequestEntityTooLarge, "too_large", "GET", itemPath("s", strings.Repeat("k", 11)), nil)
	e.fails(http.StatusBadRequest, "bad_key", "PUT", "/v1/domains/default/stores/s/items/", `1`)
	e.fails(http.StatusBadRequest, "bad_key", "GET", "/v1/domains/default/stores/s/items/%FF", nil)
	e.put("s", "v", `"`+strings.Repeat("x", 98)+`"`)
	e.fails(http.StatusRequestEntityTooLarge, "too_large", "PUT", itemPath("s", "v"), `"`+strings.Repeat("x", 99)+`"`)
	big := `{"success":[{"op":"put","store":"s","key":"k","value":"` + strings.Repeat("x", 1000) + `"}]}`
	e.fails(http.StatusRequestEntityTooLarge, "too_large", "POST", "/v1/domains/default/txn", big)
	huge := `{"success":[{"op":"put","store":"s","key":"k","value":"` + strings.Repeat("x", 200) + `"}]}`
	e.fails(http.StatusRequestEntityTooLarge, "too_large", "POST", "/v1/domains/default/txn", huge)
}

// TestDefaultValueLimit: a 4 MiB value is taken, one byte more is 413.
func TestDefaultValueLimit(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	v := `"` + strings.Repeat("x", DefaultMaxValueSize-2) + `"`
	e.put("s", "big", v)
	if got := e.get("s", "big").Value; len(got) != len(v) {
		t.Fatalf("value of %d bytes came back with %d", len(v), len(got))
	}
	e.fails(http.StatusRequestEntityTooLarge, "too_large", "PUT", itemPath("s", "big"), v+" ")
}

// TestReadYourWrites: min_seq waits for the seq and linearizable reads
// see every acknowledged write; a seq that never comes is 503 not_ready.
func TestReadYourWrites(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	seq := e.put("s", "k", `1`)
	it := item{}
	e.must(http.StatusOK, "GET", itemPath("s", "k")+"?min_seq="+strconv.FormatUint(seq, 10), nil).decode(t, &it)
	if it.Version != seq {
		t.Errorf("min_seq read version %d, want %d", it.Version, seq)
	}
	e.must(http.StatusOK, "GET", itemPath("s", "k")+"?linearizable=true", nil).decode(t, &it)
	if it.Version != seq {
		t.Errorf("linearizable read version %d, want %d", it.Version, seq)
	}
	r := e.fails(http.StatusServiceUnavailable, "not_ready", "GET", itemPath("s", "k")+"?min_seq="+strconv.FormatUint(seq+1000, 10)+"&timeout=50ms", nil)
	if r.header.Get("Retry-After") == "" {
		t.Error("not_ready without Retry-After")
	}
	// A scan's page waits the same way.
	var page struct{ Items []item }
	e.must(http.StatusOK, "GET", "/v1/domains/default/stores/s/items?min_seq="+strconv.FormatUint(seq, 10), nil).decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].Version != seq {
		t.Errorf("min_seq scan: %+v, want k at version %d", page.Items, seq)
	}
	e.must(http.StatusOK, "GET", "/v1/domains/default/stores/s/items?linearizable=true&limit=5", nil).decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].Version != seq {
		t.Errorf("linearizable scan: %+v, want k at version %d", page.Items, seq)
	}
	e.fails(http.StatusServiceUnavailable, "not_ready", "GET", "/v1/domains/default/stores/s/items?min_seq="+strconv.FormatUint(seq+1000, 10)+"&timeout=50ms", nil)
	e.fails(http.StatusBadRequest, "bad_param", "GET", "/v1/domains/default/stores/s/items?min_seq=x", nil)
	e.fails(http.StatusBadRequest, "bad_param", "GET", itemPath("s", "k")+"?min_seq=1&timeout=61s", nil)
	e.fails(http.StatusBadRequest, "bad_param", "GET", itemPath("s", "k")+"?min_seq=1&timeout=0s", nil)
	e.fails(http.StatusBadRequest, "bad_param", "GET", itemPath("s", "k")+"?min_seq=-1", nil)
	e.fails(http.StatusBadRequest, "bad_param", "GET", itemPath("s", "k")+"?linearizable=maybe", nil)
}

// TestDotSegmentsRefused: a path the mux would clean (and redirect) is
// refused, so that no client following a redirect acts on another
// resource: DELETE items/.. must not drop the store.
func TestDotSegmentsRefused(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	e.put("s", "k", `1`)
	for _, tc := range []struct{ method, path string }{
		{http.MethodDelete, "/v1/domains/default/stores/s/items/.."},
		{http.MethodPut, "/v1/domains/default/stores/s/items/.."},
		{http.MethodGet, "/v1/domains/default/stores/s/items/."},
		{http.MethodGet, "/v1/domains/default//stores/s/items/k"},
	} {
		e.fails(http.StatusBadRequest, "bad_param", tc.method, tc.path, `1`)
	}
	if got := e.get("s", "k"); string(got.Value) != "1" {
		t.Fatalf("item after the refused requests: %+v", got)
	}
	// The keys themselves, escaped, are ordinary keys.
	e.put("s", "..", `2`)
	if got := e.get("s", ".."); string(got.Value) != "2" {
		t.Fatalf("key ..: %+v", got)
	}
}
