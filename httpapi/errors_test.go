package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sopd/sop"
	"github.com/sopd/sop/index"
	"github.com/sopd/sop/internal/testseed"
)

// TestErrorTable throws each kind of bad input at each route and checks
// the status and the code.
func TestErrorTable(t *testing.T) {
	e := newEnv(t, Options{MaxKeySize: 64, MaxValueSize: 128, MaxBodySize: 512})
	e.store("s", nil)
	indexPeople(e)
	e.put("s", "k", `1`)
	long := strings.Repeat("x", 65)
	big := `"` + strings.Repeat("v", 200) + `"`
	huge := `{"success":[],"x":"` + strings.Repeat("v", 600) + `"}`
	const (
		d  = "/v1/domains/default"
		s  = d + "/stores/s"
		ix = d + "/stores/people"
	)
	tests := []struct {
		method, path, body string
		status             int
		code               string
	}{
		// Routing.
		{"GET", "/nope", "", 404, "not_found"},
		{"GET", "/v1", "", 404, "not_found"},
		{"GET", "/v1/domains/default/nope", "", 404, "not_found"},
		{"POST", "/v1/domains", "", 405, "method_not_allowed"},
		{"DELETE", d, "", 405, "method_not_allowed"},
		{"PATCH", s + "/items/k", "", 405, "method_not_allowed"},
		{"PUT", "/healthz", "", 405, "method_not_allowed"},
		{"POST", d + "/hash", "", 405, "method_not_allowed"},
		// Domains.
		{"PUT", "/v1/domains/" + strings.Repeat("d", 65), "", 400, "bad_name"},
		{"PUT", "/v1/domains/a%2Fb", "", 400, "bad_name"},
		{"PUT", "/v1/domains/x?force=1", "", 400, "bad_param"},
		{"GET", "/v1/domains?all=1", "", 400, "bad_param"},
		{"GET", "/v1/domains/nope/hash", "", 404, "domain_not_found"},
		{"GET", "/v1/domains/nope/stores", "", 404, "domain_not_found"},
		{"GET", "/v1/domains/nope/stores/s/items", "", 404, "domain_not_found"},
		{"GET", "/v1/domains/nope/stores/s/items/k", "", 404, "domain_not_found"},
		{"PUT", "/v1/domains/nope/stores/s/items/k", "1", 404, "domain_not_found"},
		{"DELETE", "/v1/domains/nope/stores/s/items/k", "", 404, "domain_not_found"},
		{"POST", "/v1/domains/nope/stores/s/items", "{}", 404, "domain_not_found"},
		{"PUT", "/v1/domains/nope/stores/s", "", 404, "domain_not_found"},
		{"DELETE", "/v1/domains/nope/stores/s", "", 404, "domain_not_found"},
		{"POST", "/v1/domains/nope/txn", "{}", 404, "domain_not_found"},
		{"POST", "/v1/domains/nope/txns", `{"txns":[{}]}`, 404, "domain_not_found"},
		{"GET", "/v1/domains/nope/watch", "", 404, "domain_not_found"},
		{"GET", "/v1/domains/bad.name/watch", "", 400, "bad_name"},
		{"GET", "/v1/domains/bad.name/stores/s/items/k", "", 400, "bad_name"},
		{"GET", "/v1/status?x=1", "", 400, "bad_param"},
		// Stores.
		{"PUT", d + "/stores/t", "{", 400, "bad_json"},
		{"PUT", d + "/stores/t", "[]", 400, "bad_json"},
		{"PUT", d + "/stores/t", `{"index":"a"}`, 400, "bad_json"},
		{"PUT", d + "/stores/t", `{"index":[{"field":1}]}`, 400, "bad_json"},
		{"PUT", d + "/stores/t", `{"index":[{"field":"a","desc":true}]}`, 400, "bad_json"},
		{"PUT", d + "/stores/t", `{"index":[{"field":"a","order":"DESC"}]}`, 400, "bad_index"},
		{"PUT", d + "/stores/t", `{"index":[{"field":"a..b"}]}`, 400, "bad_index"},
		{"PUT", d + "/stores/t", huge, 413, "too_large"},
		{"PUT", d + "/stores/%7F", "", 400, "bad_name"},
		{"PUT", s, `{"index":[{"field":"a"}]}`, 409, "store_exists"},
		{"DELETE", d + "/stores/nope", "", 404, "store_not_found"},
		{"DELETE", d + "/stores/%00", "", 400, "bad_name"},
		// Items.
		{"GET", d + "/stores/nope/items/k", "", 404, "store_not_found"},
		{"PUT", d + "/stores/nope/items/k", "1", 404, "store_not_found"},
		{"DELETE", d + "/stores/nope/items/k", "", 404, "store_not_found"},
		{"GET", d + "/stores/%01/items/k", "", 400, "bad_name"},
		{"GET", s + "/items/nope", "", 404, "key_not_found"},
		{"GET", s + "/items/", "", 400, "bad_key"},
		{"DELETE", s + "/items/", "", 400, "bad_key"},
		{"GET", s + "/items/%C3%28", "", 400, "bad_key"},
		{"GET", s + "/items/" + long, "", 413, "too_large"},
		{"PUT", s + "/items/" + long, "1", 413, "too_large"},
		{"PUT", s + "/items/k", "", 400, "bad_json"},
		{"PUT", s + "/items/k", "{", 400, "bad_json"},
		{"PUT", s + "/items/k", "{} {}", 400, "bad_json"},
		{"PUT", s + "/items/k", "undefined", 400, "bad_json"},
		{"PUT", s + "/items/k", "\xff", 400, "bad_json"},
		{"PUT", s + "/items/k", big, 413, "too_large"},
		{"PUT", s + "/items/k?if_version=x", "1", 400, "bad_param"},
		{"PUT", s + "/items/k?if_version=1&if_version=2", "1", 400, "bad_param"},
		{"PUT", s + "/items/k?if_absent=yes", "1", 400, "bad_param"},
		{"PUT", s + "/items/k?if_absent=true", "1", 409, "condition_failed"},
		{"PUT", s + "/items/k?if_version=999999", "1", 409, "condition_failed"},
		{"PUT", s + "/items/k?ttl=5", "1", 400, "bad_param"},
		{"DELETE", s + "/items/k?if_version=999999", "", 409, "condition_failed"},
		{"DELETE", s + "/items/k?if_version=", "", 400, "bad_param"},
		{"GET", s + "/items/k?min_seq=x", "", 400, "bad_param"},
		{"GET", s + "/items/k?timeout=1h", "", 400, "bad_param"},
		{"GET", s + "/items/k?min_seq=999999&timeout=10ms", "", 503, "not_ready"},
		{"PUT", s + "/items/k", "1\x00", 400, "bad_json"},
		{"POST", s + "/items", "{}", 400, "bad_index"},
		{"PUT", s + "/items/k", "1", 200, ""},
		// Index stores.
		{"GET", ix + "/items/k", "", 400, "bad_key"},
		{"GET", ix + "/items/%5B%5D", "", 400, "bad_key"},
		{"GET", ix + "/items/%5B1%2C2%2C3%5D", "", 400, "bad_key"},
		{"GET", ix + "/items/%5B%5B1%5D%2C2%5D", "", 400, "bad_key"},
		{"PUT", ix + "/items/%5B%22a%22%2C1%5D", `{"last":"a","age":2}`, 400, "key_mismatch"},
		{"PUT", ix + "/items/%5B%22a%22%2C1%5D", `[]`, 400, "key_mismatch"},
		{"POST", ix + "/items", `{"last":[1]}`, 400, "bad_index"},
		{"POST", ix + "/items", `7`, 400, "bad_index"},
		{"POST", ix + "/items", ``, 400, "bad_json"},
		{"POST", ix + "/items", big, 413, "too_large"},
		{"GET", ix + "/items?prefix=a", "", 400, "bad_key"},
		// Scans.
		{"GET", s + "/items?limit=0", "", 400, "bad_param"},
		{"GET", s + "/items?limit=1001", "", 400, "bad_param"},
		{"GET", s + "/items?limit=-1", "", 400, "bad_param"},
		{"GET", s + "/items?limit=ten", "", 400, "bad_param"},
		{"GET", s + "/items?reverse=backwards", "", 400, "bad_param"},
		{"GET", s + "/items?cursor=abc", "", 400, "bad_cursor"},
		{"GET", s + "/items?cursor=%25%25", "", 400, "bad_cursor"},
		{"GET", s + "/items?sort=desc", "", 400, "bad_param"},
		{"GET", s + "/items?%zz", "", 400, "bad_param"},
		{"GET", d + "/stores/nope/items", "", 404, "store_not_found"},
		// Transactions.
		{"POST", d + "/txn", "", 400, "bad_json"},
		{"POST", d + "/txn", `{"compare":[],"sucess":[]}`, 400, "bad_json"},
		{"POST", d + "/txn", `{"success":[{"op":"upsert","store":"s","key":"k","value":1}]}`, 400, "bad_txn"},
		{"POST", d + "/txn", `{"success":[{"op":"put","store":"nope","key":"k","value":1}]}`, 404, "store_not_found"},
		{"POST", d + "/txn", `{"success":[{"op":"put","store":"s","key":"k","value":` + big + `}]}`, 413, "too_large"},
		{"POST", d + "/txn", huge, 413, "too_large"},
		{"POST", d + "/txn?dry_run=1", `{}`, 400, "bad_param"},
		{"POST", d + "/txns", `{"txns":[]}`, 400, "bad_txn"},
		{"POST", d + "/txns", `{"txns":[{"sucess":[]}],"x":0}`, 400, "bad_json"},
		{"POST", d + "/txns", huge, 413, "too_large"},
		{"POST", d + "/txns?dry_run=1", `{"txns":[{}]}`, 400, "bad_param"},
		// Watch.
		{"GET", d + "/watch?from=x", "", 400, "bad_param"},
		{"GET", d + "/watch?from=-1", "", 400, "bad_param"},
		{"GET", d + "/watch?old_values=perhaps", "", 400, "bad_param"},
		{"GET", d + "/watch?store=nope", "", 404, "store_not_found"},
		{"GET", d + "/watch?store=%01", "", 400, "bad_name"},
		{"GET", d + "/watch?store=people&prefix=Smith", "", 400, "bad_key"},
		{"GET", d + "/watch?since=1", "", 400, "bad_param"},
		{"POST", d + "/watch", `{"watches":[]}`, 400, "bad_json"},
		{"POST", d + "/watch", `{"watches":[{"id":"a","store":"nope"}]}`, 404, "store_not_found"},
		{"POST", d + "/watch", `{"watches":[{"id":"a","store":"people","prefix":"Smith"}]}`, 400, "bad_key"},
		{"POST", d + "/watch?store=s", `{"watches":[{"id":"a"}]}`, 400, "bad_param"},
		{"POST", d + "/watch", huge, 413, "too_large"},
		// Snapshots.
		{"POST", "/v1/domains/nope/snapshots", "", 404, "domain_not_found"},
	}
	for _, tt := range tests {
		r := e.do(tt.method, tt.path, tt.body)
		if r.status != tt.status || r.code() != tt.code {
			t.Errorf("%s %s %s: %d %s, want %d %s", tt.method, tt.path, clip([]byte(tt.body)), r.status, r.body, tt.status, tt.code)
		}
	}
	r := e.do("GET", d+"/watch", "", "Last-Event-ID", "x")
	if r.status != 400 || r.code() != "bad_param" {
		t.Errorf("watch with Last-Event-ID x: %d %s, want 400 bad_param", r.status, r.body)
	}
	r = e.do("PUT", "/healthz", "")
	if r.header.Get("Allow") == "" {
		t.Errorf("405 without Allow: %v", r.header)
	}
}

// TestNo500 sends thousands of requests built from good and bad parts
// (names, keys, queries, bodies, headers) to every route, and requires
// that none is answered 500 and that every error answer is well-formed
// JSON with a code and a message.
func TestNo500(t *testing.T) {
	e := newEnv(t, Options{MaxKeySize: 64, MaxValueSize: 256, MaxBodySize: 1024})
	e.store("s", nil)
	indexPeople(e)
	e.put("s", "k", `1`)
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 0))
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	domains := []string{"default", "default", "nope", "bad.name", "%00", "%FF", strings.Repeat("d", 70), "a%2Fb"}
	stores := []string{"s", "s", "people", "people", "nope", "%01", "%FF", strings.Repeat("s", 300), "%2E%2E"}
	keys := []string{"k", "k", "%2F", "%2E%2E", "%FF", "%5B%5D", "%5B%22a%22%2C1%5D", "%5Bnull%2Cnull%5D", strings.Repeat("k", 70), "%00", "%5B1e999%2C1%5D", "%5B%22a%22%2C-0%5D"}
	queries := []string{"", "", "limit=0", "limit=abc", "limit=5000", "limit=3", "reverse=maybe", "reverse=true", "cursor=xx",
		"cursor=AQAAAAAAAAAAAGs", "from=-1", "from=18446744073709551615", "min_seq=x", "min_seq=99999&timeout=1ms", "linearizable=true",
		"if_version=abc", "if_version=1", "if_absent=yes", "if_absent=true", "timeout=forever", "unknown=1", "prefix=%5B",
		"prefix=%5B%22a%22%5D", "start=%FF", "end=%5B1%2C2%2C3%5D", "store=people&prefix=%5B1%5D", "old_values=true", "%zz", "a=1&a=2"}
	bodies := []string{"", "{", "null", "[]", "{}", "1", `"x"`, `{"index":"x"}`, `{"index":[{"field":1}]}`, `{"index":[{"field":"a","order":"x"}]}`,
		`{"last":"a","age":1}`, `{"last":{"a":1}}`, `{"success":[{"op":"put"}]}`, `{"success":[{"op":"put","store":"people","value":{"last":"q"}}]}`,
		`{"compare":[{"store":"s","key":"k","version":1,"present":true}]}`, `{"success":[{"op":"delete","store":"s","key":["a"]}]}`,
		"\xff\xfe", `{"a":1e400}`, strings.Repeat("[", 5000), `"` + strings.Repeat("v", 2000) + `"`,
		`{"success":[{"op":"put","store":"s","key":"k","value":"` + strings.Repeat("v", 300) + `"}]}`}
	routes := []struct{ method, path string }{
		{"GET", "/v1/domains"}, {"PUT", "/v1/domains/{d}"}, {"GET", "/v1/domains/{d}/stores"},
		{"PUT", "/v1/domains/{d}/stores/{s}"}, {"DELETE", "/v1/domains/{d}/stores/{s}"},
		{"GET", "/v1/domains/{d}/stores/{s}/items"}, {"POST", "/v1/domains/{d}/stores/{s}/items"},
		{"GET", "/v1/domains/{d}/stores/{s}/items/{k}"}, {"PUT", "/v1/domains/{d}/stores/{s}/items/{k}"},
		{"DELETE", "/v1/domains/{d}/stores/{s}/items/{k}"}, {"POST", "/v1/domains/{d}/txn"},
		{"POST", "/v1/domains/{d}/txns"}, {"GET", "/v1/domains/{d}/watch"}, {"GET", "/v1/domains/{d}/hash"}, {"GET", "/v1/status"},
		{"POST", "/v1/domains/{d}/snapshots"}, {"GET", "/v1/domains/{d}/snapshots"},
		{"GET", "/healthz"}, {"GET", "/readyz"}, {"GET", "/metrics"}, {"PATCH", "/v1/domains/{d}"}, {"GET", "/v1/{d}"},
	}
	headers := [][]string{nil, nil, {"Last-Event-ID", "x"}, {"Last-Event-ID", "3"}, {"Idempotency-Key", "a b"}, {"Idempotency-Key", "id-1"}, {"Content-Type", "text/plain"}}
	n := 3000
	if testing.Short() {
		n = 500
	}
	for range n {
		rt := routes[rng.IntN(len(routes))]
		path := strings.NewReplacer("{d}", pick(domains), "{s}", pick(stores), "{k}", pick(keys)).Replace(rt.path)
		if q := pick(queries); q != "" {
			path += "?" + q
		}
		checkAnswer(t, e, rt.method, path, pick(bodies), headers[rng.IntN(len(headers))])
	}
}

// checkAnswer sends one request and checks its answer is not a 500 and,
// when an error, a JSON error body. Streams are closed at once.
func checkAnswer(t *testing.T, e *env, method, path, body string, header []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if header != nil {
		req.Header.Set(header[0], header[1])
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Type") == "text/event-stream" {
		return
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	what := fmt.Sprintf("%s %s %s %v", method, path, clip([]byte(body)), header)
	if res.StatusCode < 400 {
		return
	}
	var eb errorBody
	if err := json.Unmarshal(b, &eb); err != nil || eb.Error == "" || eb.Message == "" || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s: error answer %d %q is not a JSON error", what, res.StatusCode, b)
	}
	// The server is healthy: the only 5xx are a wait that ran out and the
	// routes not built yet.
	ok5xx := map[int]string{http.StatusServiceUnavailable: "not_ready", http.StatusNotImplemented: "not_implemented"}
	if res.StatusCode >= 500 && ok5xx[res.StatusCode] != eb.Error {
		t.Fatalf("%s: %d %s", what, res.StatusCode, b)
	}
}

// TestAnswerFor: each sentinel, wrapped as callers wrap it, maps to its
// status and code; anything else is 500 internal with a message that
// tells nothing of the cause.
func TestAnswerFor(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("create store: %w", sop.ErrConflict), 409, "conflict"},
		{fmt.Errorf("%w: gave up: %w", sop.ErrUnavailable, context.Canceled), 503, "unavailable"},
		{fmt.Errorf("x: %w", sop.ErrDomainFailed), 503, "unavailable"},
		{sop.ErrClosed, 503, "unavailable"},
		{&sop.CompactedError{Domain: "d", From: 1, FirstSeq: 5}, 410, "compacted"},
		{fmt.Errorf("%w: spec", index.ErrBadSpec), 400, "bad_index"},
		{&http.MaxBytesError{Limit: 10}, 413, "too_large"},
		{fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 10}), 413, "too_large"},
		{reject(errBadParam, "x"), 400, "bad_param"},
		{fmt.Errorf("op 3: %w", reject(sop.ErrTooLarge, "x")), 413, "too_large"},
		{errors.New("disk on fire"), 500, "internal"},
		{sop.ErrReadOnly, 500, "internal"},
	}
	for _, tt := range tests {
		a := answerFor(tt.err)
		if a.status != tt.status || a.code != tt.code {
			t.Errorf("%v: %d %s, want %d %s", tt.err, a.status, a.code, tt.status, tt.code)
		}
		if msg := messageFor(tt.err, a); msg == "" || (a == internal && strings.Contains(msg, "fire")) {
			t.Errorf("%v: message %q", tt.err, msg)
		}
	}
}
