package httpapi

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sopd/sop"
	"github.com/sopd/sop/index"
	"github.com/sopd/sop/ui"
)

// fuzzLimits are the limits of the fuzz targets' servers: small, so that
// inputs reach them.
var fuzzLimits = Options{MaxKeySize: 64, MaxValueSize: 1 << 10, MaxBodySize: 4 << 10}

// fuzzEnv is one DB for a fuzz target, with a plain store "s" and an index
// store "people" (last asc, age desc), served by two servers: open, without
// authentication, and auth, with tokenFile's tokens. A fuzz target makes
// one per process.
type fuzzEnv struct {
	db         *sop.DB
	open, auth *Server
	rebuilds   int // rebuilds done (see maxFuzzRebuilds)
}

// fixtures are the stores every fuzz target starts with.
var fixtures = map[string]index.Spec{"s": nil, "people": {{Name: "last"}, {Name: "age", Desc: true}}}

func newFuzzEnv(tb testing.TB) *fuzzEnv {
	// The targets check answers, not durability: no fsync per commit.
	db, err := sop.Open(context.Background(), sop.Options{Dir: tb.TempDir(), JournalSync: sop.SyncInterval})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	fe := &fuzzEnv{db: db}
	if err := fe.restoreFixtures(); err != nil {
		tb.Fatal(err)
	}
	tokens, err := ParseTokens(strings.NewReader(tokenFile), "tokens")
	if err != nil {
		tb.Fatal(err)
	}
	if fe.open, err = New(db, fuzzLimits); err != nil {
		tb.Fatal(err)
	}
	authOpts := fuzzLimits
	authOpts.Tokens = tokens
	if fe.auth, err = New(db, authOpts); err != nil {
		tb.Fatal(err)
	}
	return fe
}

// restoreFixtures creates the fixture stores again where a fuzzed request
// dropped them (or dropped one and made another of its name).
func (fe *fuzzEnv) restoreFixtures() error {
	ctx := context.Background()
	for name, spec := range fixtures {
		_, err := fe.db.CreateStore(ctx, "default", name, spec)
		if errors.Is(err, sop.ErrStoreExists) {
			if _, err = fe.db.DropStore(ctx, "default", name); err == nil {
				_, err = fe.db.CreateStore(ctx, "default", name, spec)
			}
		}
		if err != nil {
			return fmt.Errorf("restore store %s: %w", name, err)
		}
	}
	return nil
}

// do serves one request on the open server.
func (fe *fuzzEnv) do(method, target string, body []byte) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	fe.open.ServeHTTP(w, httptest.NewRequest(method, target, bytes.NewReader(body)))
	return w
}

// fuzzServer returns a function that serves one request in process on a
// new fuzzEnv's open server.
func fuzzServer(f *testing.F) func(method, target string, body []byte) *httptest.ResponseRecorder {
	return newFuzzEnv(f).do
}

// checkFuzzAnswer fails unless the answer is a success or a JSON error
// other than 500.
func checkFuzzAnswer(t *testing.T, w *httptest.ResponseRecorder, what string) {
	t.Helper()
	if w.Code < 400 {
		return
	}
	var eb errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Error == "" || eb.Message == "" {
		t.Fatalf("%s: %d %q is not a JSON error", what, w.Code, w.Body)
	}
	if w.Code >= 500 {
		t.Fatalf("%s: %d %s", what, w.Code, w.Body)
	}
}

// FuzzTxnBody: no txn body makes the server fail.
func FuzzTxnBody(f *testing.F) {
	serve := fuzzServer(f)
	for _, seed := range []string{
		`{"compare":[{"store":"s","key":"k","version":7},{"store":"s","key":"n","absent":true}],"success":[{"op":"put","store":"s","key":"k","value":{"x":1}},{"op":"delete","store":"s","key":"old"}],"failure":[]}`,
		`{"success":[{"op":"put","store":"people","value":{"last":"a","age":1}}]}`,
		`{"success":[{"op":"put","store":"people","key":["a",1],"value":{"last":"a","age":1}}]}`,
		`{"compare":[{"store":"people","key":["a"],"present":true}]}`,
		`{"txid":"x","success":[{"op":"delete","store":"s","key":"k"}]}`,
		`{"success":[{"op":"put","store":"s","key":"k","value":1e999}]}`,
		`{`, `[]`, `null`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFuzzAnswer(t, serve("POST", "/v1/domains/default/txn", body), "txn "+string(body))
	})
}

// FuzzItem: no key (in a path) and value make a PUT, GET or scan fail,
// on a plain store or an index store.
func FuzzItem(f *testing.F) {
	serve := fuzzServer(f)
	f.Add("s", "k", []byte(`{"a":1}`))
	f.Add("people", `["a",1]`, []byte(`{"last":"a","age":1}`))
	f.Add("people", `["a",null]`, []byte(`{"last":"a"}`))
	f.Add("people", `[1e400,1]`, []byte(`{"last":1e400}`))
	f.Add("s", "\xff", []byte("\xff"))
	f.Fuzz(func(t *testing.T, store, key string, value []byte) {
		path := "/v1/domains/default/stores/" + esc(store) + "/items/" + esc(key)
		checkFuzzAnswer(t, serve("PUT", path, value), "PUT "+path)
		checkFuzzAnswer(t, serve("GET", path, nil), "GET "+path)
		scan := "/v1/domains/default/stores/" + esc(store) + "/items?prefix=" + esc(key) + "&start=" + esc(string(value))
		checkFuzzAnswer(t, serve("GET", scan, nil), "GET "+scan)
	})
}

// FuzzCursor: decoding never panics, and a cursor decodes only for the
// scope it was made for.
func FuzzCursor(f *testing.F) {
	scope := scanScope{domain: "default", store: "s", prefix: "a"}
	f.Add(cursor{last: []byte("a1")}.encode(scope), []byte("a1"), false)
	f.Add("AQ", []byte{}, true)
	f.Fuzz(func(t *testing.T, text string, last []byte, reverse bool) {
		if c, err := decodeCursor(text, scope); err == nil && c.encode(scope) != text {
			t.Fatalf("cursor %q decodes to %+v, which encodes to %q", text, c, c.encode(scope))
		}
		if len(last) == 0 {
			return
		}
		c := cursor{reverse: reverse, last: last}
		got, err := decodeCursor(c.encode(scope), scope)
		if err != nil || got.reverse != reverse || !bytes.Equal(got.last, last) {
			t.Fatalf("cursor %+v came back as %+v, %v", c, got, err)
		}
		other := scope
		other.prefix = "b"
		if _, err := decodeCursor(c.encode(scope), other); err == nil {
			t.Fatalf("cursor %+v decoded for another scope", c)
		}
	})
}

// fuzzRequest is one input of FuzzRequest: a request as a client writes
// it. method picks one of fuzzMethods and route the path (see fuzzRoutes),
// both taken mod their number; header holds "Name: value" lines; pad*64
// spaces follow the body (JSON white space: a body grows past its limit
// and stays JSON, while inputs stay small and quick to minimize); who
// picks the server and token, mod 5: 0 the open server, 1 the auth server
// without a token, 2, 3 and 4 the auth server with the read, write and
// admin token.
type fuzzRequest struct {
	method, route       uint8
	path, query, header string
	body                []byte
	pad, who            uint8
}

// fuzzMethods are FuzzRequest's methods: the API's and a few others (any
// other is a 405 like these).
var fuzzMethods = [...]string{"GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS", "TRACE", "CONNECT", "get"}

// Methods of FuzzRequest, numbering fuzzMethods.
const (
	mGET = iota
	mPUT
	mPOST
	mDELETE
	mHEAD
	mPATCH
)

// Routes of FuzzRequest, numbering fuzzRoutes.
const (
	rawPath = iota
	rHealthz
	rReadyz
	rMetrics
	rStatus
	rWhoami
	rUI
	rDomains
	rDomain
	rHash
	rTxn
	rWatch
	rSnapshots
	rRebuild
	rStores
	rStore
	rScan
	rItem
	rToUI
	rRoot
	rTxns
)

// fuzzRoutes are FuzzRequest's path templates, by route (taken mod their
// number): each %s takes the next line of the input's path, percent-encoded
// (a missing line is empty). Mutating a whole path mostly leaves the API's
// routes, so this keeps most inputs on one; rawPath sends the path as it
// is, to fuzz routing and path checks too. TestFuzzRoutes checks that
// they reach every route the server registers.
var fuzzRoutes = [...]string{
	rawPath:    "%s",
	rHealthz:   "/healthz",
	rReadyz:    "/readyz",
	rMetrics:   "/metrics",
	rStatus:    "/v1/status",
	rWhoami:    "/v1/whoami",
	rUI:        "/ui/%s",
	rDomains:   "/v1/domains",
	rDomain:    "/v1/domains/%s",
	rHash:      "/v1/domains/%s/hash",
	rTxn:       "/v1/domains/%s/txn",
	rWatch:     "/v1/domains/%s/watch",
	rSnapshots: "/v1/domains/%s/snapshots",
	rRebuild:   "/v1/domains/%s/rebuild",
	rStores:    "/v1/domains/%s/stores",
	rStore:     "/v1/domains/%s/stores/%s",
	rScan:      "/v1/domains/%s/stores/%s/items",
	rItem:      "/v1/domains/%s/stores/%s/items/%s",
	rToUI:      "/ui",
	rRoot:      "/",
	rTxns:      "/v1/domains/%s/txns",
}

// target is the request's path and query.
func (in fuzzRequest) target() string {
	route := int(in.route) % len(fuzzRoutes)
	p := in.path
	if route != rawPath {
		parts := strings.Split(in.path, "\n")
		args := make([]any, strings.Count(fuzzRoutes[route], "%s"))
		for i := range args {
			args[i] = ""
			if i < len(parts) {
				args[i] = esc(parts[i])
			}
		}
		p = fmt.Sprintf(fuzzRoutes[route], args...)
	}
	if in.query != "" {
		p += "?" + in.query
	}
	return p
}

// whoTokens are the tokens of who 2 to 4.
var whoTokens = [5]string{2: readToken, 3: writeToken, 4: adminToken}

// Route patterns the checks treat apart.
const (
	patStore     = "PUT /v1/domains/{d}/stores/{s}"
	patDropStore = "DELETE /v1/domains/{d}/stores/{s}"
	patDomain    = "PUT /v1/domains/{d}"
	patWatch     = "GET /v1/domains/{d}/watch"
	patWatchMany = "POST /v1/domains/{d}/watch"
	patGetItem   = "GET /v1/domains/{d}/stores/{s}/items/{key}"
	patGetSlash  = "GET /v1/domains/{d}/stores/{s}/items/{$}"
	patTxn       = "POST /v1/domains/{d}/txn"
	patTxns      = "POST /v1/domains/{d}/txns"
	patPutItem   = "PUT /v1/domains/{d}/stores/{s}/items/{key}"
	patPutSlash  = "PUT /v1/domains/{d}/stores/{s}/items/{$}"
	patPostItem  = "POST /v1/domains/{d}/stores/{s}/items"
	patMetrics   = "GET /metrics"
	patUI        = "GET /ui/"
	patToUI      = "GET /ui"
	patRoot      = "GET /{$}"
	patRebuild   = "POST /v1/domains/{d}/rebuild"
)

// bodyLimits are the routes that read a JSON body, and its limit
// (TestFuzzRoutes checks both against the server).
var bodyLimits = map[string]int64{
	patStore:     fuzzLimits.MaxBodySize,
	patTxn:       fuzzLimits.MaxBodySize,
	patTxns:      fuzzLimits.MaxBodySize,
	patWatchMany: fuzzLimits.MaxBodySize,
	patPutItem:   int64(fuzzLimits.MaxValueSize),
	patPutSlash:  int64(fuzzLimits.MaxValueSize),
	patPostItem:  int64(fuzzLimits.MaxValueSize),
}

// maxFuzzDomains bounds the domains a fuzz process creates: each has its
// own journal stream and page file, and thousands of them would slow every
// iteration without reaching new code.
const maxFuzzDomains = 8

// maxFuzzRebuilds bounds the rebuilds a fuzz process does. Each rebuild
// follows the journal with a new ordered JetStream consumer, and the one
// it replaces stays on the server until 10 s of inactivity pass
// (journal.followInactive): a fuzzer rebuilding in a tight loop could
// still reach the stream's consumer limit (1000) within that time, and the
// input would fail for a reason that is not its own. Past this bound the
// input is skipped.
const maxFuzzRebuilds = 100

// FuzzRequest sends any request (method, path, query, headers, body,
// token) through the whole handler, over every route, and checks what
// every answer must be: no panic; no 5xx but a 503 with Retry-After whose
// cause is a wait that ran out; a JSON {"error","message"} for every error
// (bar the plain-text routes); a 4xx for a body that is not JSON; and a
// body over its limit never read (413, or an error found before reading
// it). A stream is cut after a few milliseconds, and a read waiting for a
// seq after 20ms; any other request must answer within 10s.
func FuzzRequest(f *testing.F) {
	fe := newFuzzEnv(f)
	for _, s := range requestSeeds() {
		f.Add(s.method, s.route, s.path, s.query, s.header, s.body, s.pad, s.who)
	}
	f.Fuzz(func(t *testing.T, method, route uint8, path, query, header string, body []byte, pad, who uint8) {
		fe.check(t, fuzzRequest{method: method, route: route, path: path, query: query, header: header, body: body, pad: pad, who: who})
	})
}

// requestSeeds are a valid request per route and known bad ones.
func requestSeeds() []fuzzRequest {
	j := func(s string) []byte { return []byte(s) }
	overBody, overValue := uint8(fuzzLimits.MaxBodySize/64+1), uint8(fuzzLimits.MaxValueSize/64+1)
	return []fuzzRequest{
		// Health, metrics, status, UI.
		{method: mGET, route: rHealthz},
		{method: mGET, route: rReadyz},
		{method: mGET, route: rMetrics},
		{method: mGET, route: rStatus},
		{method: mGET, route: rWhoami},
		{method: mGET, route: rWhoami, who: 2},
		{method: mGET, route: rUI},
		{method: mHEAD, route: rUI, path: "nope.js"},
		{method: mGET, path: "/ui"},
		{method: mGET, path: "/"},
		{method: mGET, route: rToUI},
		{method: mGET, route: rRoot},
		// Domains: there is no DELETE (405), and no body.
		{method: mGET, route: rDomains},
		{method: mPUT, route: rDomain, path: "fz"},
		{method: mPUT, route: rDomain, path: "bad.name"},
		{method: mPUT, route: rDomain, path: "fz", query: "force=1"},
		{method: mDELETE, route: rDomain, path: "fz"},
		// Stores.
		{method: mGET, route: rStores, path: "default"},
		{method: mPUT, route: rStore, path: "default\ntmp", body: j(`{"index":[{"field":"a.b"},{"field":"c","order":"desc"}]}`)},
		{method: mPUT, route: rStore, path: "default\nplain", body: j(`{}`)},
		{method: mPUT, route: rStore, path: "default\nplain2"},
		{method: mPUT, route: rStore, path: "default\nt", body: j(`{"index":[]}`)},
		{method: mPUT, route: rStore, path: "default\nt", body: j(`{"index":[{"field":"a","order":"DESC"}]}`)},
		{method: mPUT, route: rStore, path: "default\nt", body: j(`{"index":[{"field":"a"}],"x":1}`)},
		{method: mPUT, route: rStore, path: "default\nt", body: j(`{`)},
		{method: mPUT, route: rStore, path: "default\nt", body: j(`{}`), pad: overBody},
		{method: mPUT, route: rStore, path: "default\n\x7f"},
		{method: mDELETE, route: rStore, path: "default\ntmp"},
		{method: mDELETE, route: rStore, path: "default\ns"},
		// Items.
		{method: mPUT, route: rItem, path: "default\ns\nk", body: j(`{"a":1}`), header: "Idempotency-Key: fz-1\nContent-Type: application/json"},
		{method: mPUT, route: rItem, path: "default\ns\nk", query: "if_absent=true", body: j(`1`)},
		{method: mPUT, route: rItem, path: "default\ns\nk", query: "if_version=0", body: j(`1`)},
		{method: mPUT, route: rItem, path: "default\ns\n/", body: j(`"slash"`)},
		{method: mPUT, route: rItem, path: "default\ns", body: j(`1`)},
		{method: mPUT, route: rItem, path: "default\ns\nk", body: j(`{"a":`)},
		{method: mPUT, route: rItem, path: "default\ns\nk", body: j(`1`), pad: overValue},
		{method: mPOST, route: rScan, path: "default\npeople", body: j(`{"last":"b"}`), pad: overValue},
		{method: mPUT, route: rItem, path: "default\npeople\n[\"a\",1]", body: j(`{"last":"a","age":1}`)},
		{method: mPUT, route: rItem, path: "default\npeople\n[\"a\",2]", body: j(`{"last":"a","age":1}`)},
		{method: mPOST, route: rScan, path: "default\npeople", body: j(`{"last":"b","age":2}`)},
		{method: mPOST, route: rScan, path: "default\ns", body: j(`{}`)},
		{method: mGET, route: rItem, path: "default\ns\nk"},
		{method: mGET, route: rItem, path: "default\ns\nk", query: "min_seq=1&timeout=10ms"},
		{method: mGET, route: rItem, path: "default\ns\nk", query: "min_seq=99999999&timeout=1s"},
		{method: mGET, route: rItem, path: "default\npeople\n[\"a\",1]", query: "linearizable=true"},
		{method: mGET, route: rItem, path: "default\ns\n.."},
		{method: mGET, path: "/v1/domains/default/stores/s/items/.."},
		{method: mDELETE, route: rItem, path: "default\ns\nk", query: "if_version=1"},
		{method: mPATCH, route: rItem, path: "default\ns\nk"},
		// Scans.
		{method: mGET, route: rScan, path: "default\ns", query: "prefix=a&limit=2&reverse=true"},
		{method: mGET, route: rScan, path: "default\npeople", query: "prefix=%5B%22a%22%5D&end=%5B%22b%22%5D"},
		{method: mGET, route: rScan, path: "default\ns", query: "cursor=AQ&limit=0"},
		// Transactions.
		{method: mPOST, route: rTxn, path: "default", body: j(`{"compare":[{"store":"s","key":"k","version":7},{"store":"s","key":"n","absent":true}],"success":[{"op":"put","store":"s","key":"k","value":{"x":1}},{"op":"delete","store":"s","key":"old"}],"failure":[]}`)},
		{method: mPOST, route: rTxn, path: "default", body: j(`{"txid":"a","success":[{"op":"put","store":"people","value":{"last":"c"}}]}`), header: "Idempotency-Key: b"},
		{method: mPOST, route: rTxn, path: "default", body: j(`null`)},
		{method: mPOST, route: rTxn, path: "default", body: j(`{}`), pad: overBody},
		{method: mPOST, route: rTxns, path: "default", body: j(`{"txns":[{"txid":"t","success":[{"op":"put","store":"s","key":"k","value":1}]},{"compare":[{"store":"s","key":"k","absent":true}]}]}`)},
		{method: mPOST, route: rTxns, path: "default", body: j(`{"txns":[]}`), pad: overBody},
		// Watch: the stream is cut after a few milliseconds.
		{method: mGET, route: rWatch, path: "default", query: "from=1"},
		{method: mPOST, route: rWatch, path: "default", body: j(`{"watches":[{"id":"a","store":"s","from":1},{"id":"b","store":"people","prefix":["a"],"old_values":true}]}`)},
		{method: mPOST, route: rWatch, path: "default", body: j(`{"watches":[{"id":"a"},{"id":"a"}]}`)},
		{method: mPOST, route: rWatch, path: "default", body: j(`{"watches":[{"id":"a","prefix":7}]}`), pad: overBody},
		{method: mGET, route: rWatch, path: "default", query: "store=people&prefix=%5B%22a%22%5D&old_values=true"},
		{method: mGET, route: rWatch, path: "default", header: "Last-Event-ID: 3"},
		{method: mGET, route: rWatch, path: "default", header: "Last-Event-ID: x"},
		{method: mHEAD, route: rWatch, path: "default", query: "access_token=" + readToken, who: 1},
		// Hash, snapshots, rebuild.
		{method: mGET, route: rHash, path: "default"},
		{method: mPOST, route: rSnapshots, path: "default"},
		{method: mGET, route: rSnapshots, path: "default"},
		{method: mPOST, route: rRebuild, path: "default"},
		{method: mPOST, route: rRebuild, path: "nope"},
		// Routing and authentication.
		{method: mGET, path: "/v1//domains"},
		{method: mGET, path: "/nope"},
		{method: mGET, path: "/v1/domains/default/stores/s/items/%zz"},
		{method: mGET, path: "*"},
		{method: mDELETE, route: rScan, path: "default\ns"}, // a 405, not a redirect to items/
		{method: mGET, route: rStatus, who: 1},
		{method: mGET, route: rStatus, who: 1, header: "Authorization: Basic eDp5"},
		{method: mPUT, route: rDomain, path: "fz", who: 2},
		{method: mPOST, route: rTxn, path: "default", who: 3, body: j(`{}`)},
	}
}

// check serves in and checks the answer (see FuzzRequest).
func (fe *fuzzEnv) check(t *testing.T, in fuzzRequest) {
	r, body, ok := in.request()
	if !ok {
		return // net/http's server refuses it before any handler
	}
	srv := fe.open
	if who := in.who % 5; who > 0 {
		srv = fe.auth
		if tok := whoTokens[who]; tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	pattern := "" // of the route that takes r, if one does
	if canonical(r.URL.EscapedPath()) && srv.routed(r) {
		_, pattern = srv.mux.Handler(r)
	}
	fe.maybeSkip(t, r, pattern)
	wait, mayExpire := fuzzDeadline(pattern)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r.WithContext(ctx))
	what := fmt.Sprintf("%s %s (body %q)", r.Method, r.URL, clip(body))
	expired := ctx.Err() != nil
	if expired && !mayExpire {
		t.Fatalf("%s: no answer within %s", what, wait)
	}
	checkRequestAnswer(t, w, pattern, body, expired, what)
	if pattern == patRebuild && w.Code == http.StatusOK {
		fe.rebuilds++
	}
	if pattern == patDropStore && w.Code == http.StatusOK {
		if err := fe.restoreFixtures(); err != nil {
			t.Fatal(err)
		}
	}
}

// request reads the request off the wire as net/http's server does, so
// that what the server refuses itself (a bad method, target or header)
// never reaches the handler: ok is false then. The test frames the body;
// body is what the handler will read.
func (in fuzzRequest) request() (r *http.Request, body []byte, ok bool) {
	var b bytes.Buffer
	method := fuzzMethods[int(in.method)%len(fuzzMethods)]
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: sop\r\n", method, in.target())
	for line := range strings.Lines(in.header) {
		line = strings.TrimRight(line, "\r\n")
		name, _, _ := strings.Cut(line, ":")
		switch http.CanonicalHeaderKey(strings.TrimSpace(name)) {
		case "", "Host", "Content-Length", "Transfer-Encoding":
			continue
		}
		b.WriteString(line + "\r\n")
	}
	spaces := bytes.Repeat([]byte(" "), int(in.pad)*64)
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(in.body)+len(spaces))
	b.Write(in.body)
	b.Write(spaces)
	r, err := http.ReadRequest(bufio.NewReader(&b))
	if err != nil {
		return nil, nil, false
	}
	if body, err = io.ReadAll(r.Body); err != nil {
		return nil, nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return r, body, true
}

// maybeSkip skips creating a domain past maxFuzzDomains, and a rebuild
// past maxFuzzRebuilds.
func (fe *fuzzEnv) maybeSkip(t *testing.T, r *http.Request, pattern string) {
	if pattern == patRebuild && fe.rebuilds >= maxFuzzRebuilds {
		t.Skipf("this process rebuilt %d times already", fe.rebuilds)
	}
	if pattern != patDomain {
		return
	}
	name, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/v1/domains/"))
	domains := fe.db.Domains()
	if err == nil && sop.CheckDomainName(name) == nil && !slices.Contains(domains, name) && len(domains) >= maxFuzzDomains {
		t.Skipf("this process made %d domains already", len(domains))
	}
}

// fuzzDeadline is how long a request of pattern may take, and whether
// running out is an answer (a 503, or a stream's end) rather than a hang.
func fuzzDeadline(pattern string) (time.Duration, bool) {
	switch pattern {
	case patWatch, patWatchMany:
		return 5 * time.Millisecond, true
	case patGetItem, patGetSlash: // ?min_seq= and ?linearizable= wait
		return 20 * time.Millisecond, true
	}
	return 10 * time.Second, false
}

// checkRequestAnswer fails unless w may answer a request of pattern with
// body; expired tells whether the request's deadline passed.
func checkRequestAnswer(t *testing.T, w *httptest.ResponseRecorder, pattern string, body []byte, expired bool, what string) {
	t.Helper()
	if w.Code >= 300 && w.Code < 400 && pattern != patUI && pattern != patToUI && pattern != patRoot {
		t.Fatalf("%s: %d to %q: only the UI redirects, the API answers in JSON", what, w.Code, w.Header().Get("Location"))
	}
	var eb errorBody
	if answersJSON(pattern, w.Code) {
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s: %d with Content-Type %q: %s", what, w.Code, ct, w.Body)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s: %d %q is not JSON", what, w.Code, w.Body)
		}
		if w.Code >= 400 {
			if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Error == "" || eb.Message == "" {
				t.Fatalf("%s: %d %s is not a JSON error", what, w.Code, w.Body)
			}
		}
	}
	if (pattern == patWatch || pattern == patWatchMany) && w.Code == http.StatusOK {
		checkStream(t, w, what)
	}
	switch {
	case w.Code == http.StatusServiceUnavailable:
		check503(t, w, pattern, eb, expired, what)
	case w.Code >= 500:
		t.Fatalf("%s: %d %s", what, w.Code, w.Body)
	}
	limit, readsBody := bodyLimits[pattern]
	if !readsBody {
		return
	}
	isJSON := json.Valid(body) || len(body) == 0 && pattern == patStore
	if !isJSON && (w.Code < 400 || w.Code >= 500) {
		t.Fatalf("%s: %d %s for a body that is not JSON: want a 4xx", what, w.Code, w.Body)
	}
	if int64(len(body)) > limit {
		switch eb.Error {
		case "", "bad_json", "bad_txn", "key_mismatch", "condition_failed", "store_exists":
			t.Fatalf("%s: %d %s for a body of %d bytes over the limit of %d: want 413 too_large", what, w.Code, w.Body, len(body), limit)
		}
	}
}

// answersJSON reports whether an answer of pattern with status code is
// JSON.
func answersJSON(pattern string, code int) bool {
	switch {
	case code >= 300 && code < 400:
		return false // redirects to /ui/, and the UI's 304s
	case pattern == patMetrics, pattern == patUI:
		return false // Prometheus text; the UI's files and its plain-text 404
	case pattern == patWatch, pattern == patWatchMany:
		return code >= 400 // a stream, or the error that kept it from starting
	}
	return true
}

// checkStream fails unless a change stream is Server-Sent Events whose
// data lines are JSON.
func checkStream(t *testing.T, w *httptest.ResponseRecorder, what string) {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("%s: a stream with Content-Type %q", what, ct)
	}
	for line := range strings.Lines(w.Body.String()) {
		if data, ok := strings.CutPrefix(line, "data: "); ok && !json.Valid([]byte(data)) {
			t.Fatalf("%s: stream data %q is not JSON", what, data)
		}
	}
}

// check503 fails unless a 503 says when to come back and has a cause: the
// request's deadline, or the ?timeout= of a read that waits.
func check503(t *testing.T, w *httptest.ResponseRecorder, pattern string, eb errorBody, expired bool, what string) {
	t.Helper()
	if w.Header().Get("Retry-After") != "1" {
		t.Fatalf("%s: 503 without Retry-After: 1: %s", what, w.Body)
	}
	switch {
	case expired:
	case (pattern == patGetItem || pattern == patGetSlash) && eb.Error == "not_ready":
	default:
		t.Fatalf("%s: 503 %s from a healthy node with time left", what, w.Body)
	}
}

// FuzzIndexSpec: a store-creation body is refused with bad_json,
// bad_index or too_large, or it creates the store it describes: the answer
// and the store list show the specification as sent ("asc" when no order
// is given), and an index store takes a document without any of its
// fields, under the key of nulls. The store is dropped after each input.
func FuzzIndexSpec(f *testing.F) {
	fe := newFuzzEnv(f)
	for _, seed := range []string{
		``, `{}`, `{"index":null}`, `{"index":[]}`,
		`{"index":[{"field":"last"},{"field":"age","order":"desc"}]}`,
		`{"index":[{"field":"a"},{"field":"a.b","order":"asc"}]}`,
		`{"index":[{"field":"a"},{"field":"a"}]}`,
		`{"index":[{"field":"a..b"}]}`, `{"index":[{"field":".a"}]}`, `{"index":[{"field":""}]}`,
		`{"index":[{"field":"a\u0000"}]}`, `{"index":[{"field":"\u00e9t\u00e9"}]}`,
		`{"index":[{"field":"a","order":"DESC"}]}`, `{"index":[{"field":"a","desc":true}]}`,
		`{"index":[{"field":1}]}`, `{"index":"a"}`, `{"index":[null]}`, `[]`, `{`, `{}{}`, `{} x`,
		`{"index":[` + strings.Repeat(`{"field":"f"},`, 64) + `{"field":"g"}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		const path = "/v1/domains/default/stores/ix"
		w := fe.do("PUT", path, body)
		checkFuzzAnswer(t, w, "PUT "+path)
		var eb errorBody
		json.Unmarshal(w.Body.Bytes(), &eb)
		switch {
		case w.Code == http.StatusCreated:
		case w.Code == http.StatusBadRequest && (eb.Error == "bad_json" || eb.Error == "bad_index"):
			return
		case w.Code == http.StatusRequestEntityTooLarge && int64(len(body)) > fuzzLimits.MaxBodySize:
			return
		default:
			t.Fatalf("PUT %s %q: %d %s", path, body, w.Code, w.Body)
		}
		defer fe.dropStore(t, "ix")
		var def storeBody
		if len(body) > 0 && json.Unmarshal(body, &def) != nil {
			t.Fatalf("PUT %s %q: created from a body that does not decode", path, body)
		}
		want := storeJSON{Name: "ix", Index: def.Index}
		for i := range want.Index {
			want.Index[i].Order = cmp.Or(want.Index[i].Order, "asc")
		}
		var got storeJSON
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("PUT %s %q: answer %s, want %+v", path, body, w.Body, want)
		}
		fe.checkListed(t, want)
		if len(want.Index) > 0 {
			fe.checkEmptyDoc(t, len(want.Index))
		}
	})
}

// checkListed fails unless the store list of domain default shows want.
func (fe *fuzzEnv) checkListed(t *testing.T, want storeJSON) {
	t.Helper()
	w := fe.do("GET", "/v1/domains/default/stores", nil)
	var list struct {
		Stores []storeJSON `json:"stores"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
		t.Fatalf("store list %d %s: %v", w.Code, w.Body, err)
	}
	for _, s := range list.Stores {
		if s.Name == want.Name {
			s.Count = nil
			if !reflect.DeepEqual(s, want) {
				t.Fatalf("store list shows %+v, want %+v", s, want)
			}
			return
		}
	}
	t.Fatalf("store list %s lacks %s", w.Body, want.Name)
}

// checkEmptyDoc fails unless store ix, with an index of n fields, takes
// the document {} under the key of n nulls and reads it back there.
func (fe *fuzzEnv) checkEmptyDoc(t *testing.T, n int) {
	t.Helper()
	w := fe.do("POST", "/v1/domains/default/stores/ix/items", []byte(`{}`))
	if w.Code != http.StatusOK {
		t.Fatalf("POST {} to an index of %d fields: %d %s", n, w.Code, w.Body)
	}
	var ans struct {
		Key []any `json:"key"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil || len(ans.Key) != n || slices.ContainsFunc(ans.Key, func(v any) bool { return v != nil }) {
		t.Fatalf("POST {} to an index of %d fields: key %s, want %d nulls", n, w.Body, n)
	}
	key, _ := json.Marshal(ans.Key)
	if w := fe.do("GET", itemPath("ix", string(key)), nil); w.Code != http.StatusOK {
		t.Fatalf("GET %s after POST {}: %d %s", key, w.Code, w.Body)
	}
}

// dropStore drops store name of domain default.
func (fe *fuzzEnv) dropStore(t *testing.T, name string) {
	t.Helper()
	if w := fe.do("DELETE", "/v1/domains/default/stores/"+esc(name), nil); w.Code != http.StatusOK {
		t.Fatalf("drop store %s: %d %s", name, w.Code, w.Body)
	}
}

// TestFuzzRoutes compares FuzzRequest's hand-written lists with the routes
// the server registers (registeredPatterns): every route is reached by a
// template of fuzzRoutes and every template (bar rawPath) reaches a route;
// bodyLimits names exactly the routes that read a body, each with the
// limit the server applies.
func TestFuzzRoutes(t *testing.T) {
	fe := newFuzzEnv(t)
	registered := registeredPatterns(t)
	for _, p := range registered {
		method, path := patternRequest(p, nil)
		if got := fe.open.patternOf(method, path); got != p {
			t.Errorf("%s %s routes to %q, want %q", method, path, got, p)
		}
	}
	reached := map[string]bool{}
	for route, tmpl := range fuzzRoutes {
		if route == rawPath {
			continue
		}
		found := fe.open.templatePatterns(tmpl)
		if len(found) == 0 {
			t.Errorf("fuzzRoutes[%d] %q reaches no route", route, tmpl)
		}
		for _, p := range found {
			if !slices.Contains(registered, p) {
				t.Errorf("fuzzRoutes[%d] %q reaches %s, which no s.handle call registers", route, tmpl, p)
			}
			reached[p] = true
		}
	}
	for _, p := range registered {
		if !reached[p] {
			t.Errorf("route %s: no template of fuzzRoutes reaches it", p)
		}
	}
	fe.checkBodyLimits(t, registered)
}

// checkBodyLimits fails unless bodyLimits lists exactly the routes among
// registered (but GET's, which take no body and whose streams would not
// end) that read a body, with the limit each applies. A route reads its
// body when a body that is not JSON gets bad_json, on the fixture store
// "s" (an items/{$} route takes the key "/" there) or "people" (a
// document POSTed needs an index store); the limit is where the answer
// turns to too_large.
func (fe *fuzzEnv) checkBodyLimits(t *testing.T, registered []string) {
	notJSON := func(n int64) []byte { return append([]byte("{"), bytes.Repeat([]byte(" "), int(n-1))...) }
	for _, p := range registered {
		if strings.HasPrefix(p, "GET ") {
			continue
		}
		limit, listed := bodyLimits[p]
		reads := false
		for _, values := range []map[string]string{
			{"{d}": "default", "{s}": "s", "{key}": "k", "{$}": "/"},
			{"{d}": "default", "{s}": "people", "{key}": `["a",1]`},
		} {
			method, path := patternRequest(p, values)
			if _, answer := fe.answer(t, method, path, []byte("{")); answer != "bad_json" {
				continue
			}
			reads = true
			if !listed {
				break
			}
			if code, answer := fe.answer(t, method, path, notJSON(limit)); answer != "bad_json" {
				t.Errorf("%s: a body of %d bytes, its limit in bodyLimits: %d %s, want bad_json", p, limit, code, answer)
			}
			if code, answer := fe.answer(t, method, path, notJSON(limit+1)); code != http.StatusRequestEntityTooLarge {
				t.Errorf("%s: a body of %d bytes, past its limit in bodyLimits: %d %s, want 413", p, limit+1, code, answer)
			}
			break
		}
		switch {
		case reads && !listed:
			t.Errorf("%s reads a body, but bodyLimits lacks it", p)
		case !reads && listed:
			t.Errorf("bodyLimits lists %s, which reads no body", p)
		}
	}
	for p := range bodyLimits {
		if !slices.Contains(registered, p) {
			t.Errorf("bodyLimits lists %s, which no s.handle call registers", p)
		}
	}
}

// answer serves one request on the open server and gives its status and
// error code, then restores the fixture stores (a DELETE may drop one).
func (fe *fuzzEnv) answer(t *testing.T, method, path string, body []byte) (int, string) {
	t.Helper()
	w := fe.do(method, path, body)
	var eb errorBody
	json.Unmarshal(w.Body.Bytes(), &eb)
	if err := fe.restoreFixtures(); err != nil {
		t.Fatal(err)
	}
	return w.Code, eb.Error
}

// patternOf is the pattern of the route that takes method and path, or ""
// when none does (the mux's own redirects, 404s and 405s included).
func (s *Server) patternOf(method, path string) string {
	r, err := http.NewRequest(method, "http://sop"+path, nil)
	if err != nil || !canonical(r.URL.EscapedPath()) || !s.routed(r) {
		return ""
	}
	_, pattern := s.mux.Handler(r)
	return pattern
}

// templatePatterns are the patterns a template of fuzzRoutes reaches with
// any of fuzzMethods, its %s taking "x", or "x" but the last one empty
// (what reaches a {$} route).
func (s *Server) templatePatterns(tmpl string) []string {
	n := strings.Count(tmpl, "%s")
	var found []string
	for _, empty := range []bool{false, true} {
		args := make([]any, n)
		for i := range args {
			args[i] = "x"
		}
		if empty && n > 0 {
			args[n-1] = ""
		}
		for _, method := range fuzzMethods {
			if p := s.patternOf(method, fmt.Sprintf(tmpl, args...)); p != "" && !slices.Contains(found, p) {
				found = append(found, p)
			}
		}
	}
	return found
}

// patternRequest is a request a route of pattern takes: its method, and
// its path with each wildcard ("{d}", "{$}") replaced by its value in
// values, escaped; without one, by "x", or by nothing for {$}.
func patternRequest(pattern string, values map[string]string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = regexp.MustCompile(`\{[^}]*\}`).ReplaceAllStringFunc(path, func(w string) string {
		if v, ok := values[w]; ok {
			return esc(v)
		}
		if w == "{$}" {
			return ""
		}
		return "x"
	})
	return method, path
}

// registeredPatterns are the patterns of every route the package
// registers, read from its source: the first argument of each s.handle
// call, a string made of literals, constants of the package (also those
// declared in a function) and ui.Prefix. A pattern made any other way
// fails the test, so that no route goes unseen.
func registeredPatterns(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := gotoken.NewFileSet()
	var files []*ast.File
	consts := map[string][]ast.Expr{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		ast.Inspect(f, func(n ast.Node) bool {
			if d, ok := n.(*ast.GenDecl); ok && d.Tok == gotoken.CONST {
				for _, spec := range d.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, id := range vs.Names {
						if i < len(vs.Values) {
							consts[id.Name] = append(consts[id.Name], vs.Values[i])
						}
					}
				}
			}
			return true
		})
	}
	var fold func(e ast.Expr) (string, error)
	fold = func(e ast.Expr) (string, error) {
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind == gotoken.STRING {
				return strconv.Unquote(e.Value)
			}
		case *ast.ParenExpr:
			return fold(e.X)
		case *ast.BinaryExpr:
			if e.Op == gotoken.ADD {
				x, err := fold(e.X)
				if err != nil {
					return "", err
				}
				y, err := fold(e.Y)
				return x + y, err
			}
		case *ast.Ident:
			if defs := consts[e.Name]; len(defs) == 1 {
				return fold(defs[0])
			}
		case *ast.SelectorExpr:
			if x, ok := e.X.(*ast.Ident); ok && x.Name == "ui" && e.Sel.Name == "Prefix" {
				return ui.Prefix, nil
			}
		}
		return "", fmt.Errorf("%s: cannot read a pattern from %T", fset.Position(e.Pos()), e)
	}
	var patterns []string
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "handle" || len(call.Args) != 3 {
				return true
			}
			p, err := fold(call.Args[0])
			if err != nil {
				t.Fatal(err)
			}
			patterns = append(patterns, p)
			return true
		})
	}
	if len(patterns) == 0 {
		t.Fatal("no s.handle call found: the routes are registered another way")
	}
	slices.Sort(patterns)
	return slices.Compact(patterns)
}
