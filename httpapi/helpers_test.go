package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sopd/sop"
)

// env is a real DB (embedded NATS, in process) served over HTTP.
type env struct {
	t     *testing.T
	db    *sop.DB
	srv   *Server
	ts    *httptest.Server
	token string // sent as Bearer when set
}

// newEnv opens a DB in a temporary directory and serves it with opts.
func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	return newEnvDB(t, sop.Options{}, opts)
}

// newEnvDB is newEnv with DB options (Dir is set here) and, optionally,
// changes to the HTTP server before it starts.
func newEnvDB(t *testing.T, dbOpts sop.Options, opts Options, configure ...func(*http.Server)) *env {
	t.Helper()
	dbOpts.Dir = t.TempDir()
	db, err := sop.Open(context.Background(), dbOpts)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(db, opts)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv)
	for _, f := range configure {
		f(ts.Config)
	}
	ts.Start()
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		db.Close()
	})
	return &env{t: t, db: db, srv: srv, ts: ts}
}

// with returns a copy of e that reports to t (a subtest's).
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// resp is an answer, its body read.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// code is the error code of an error answer ("" if none).
func (r resp) code() string {
	var e errorBody
	json.Unmarshal(r.body, &e)
	return e.Error
}

// decode decodes the body into v, failing the test when it does not parse.
func (r resp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("answer %d %s does not decode into %T: %v", r.status, r.body, v, err)
	}
}

// do sends a request with a body (a string or []byte is sent as is, other
// values as JSON, nil as nothing) and headers given as name, value pairs.
// It fails the test when the request cannot be made.
func (e *env) do(method, path string, body any, headers ...string) resp {
	e.t.Helper()
	r, err := e.try(method, path, body, headers...)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// try is do for other goroutines than the test's: it returns the error.
func (e *env) try(method, path string, body any, headers ...string) (resp, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return resp{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		return resp{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		return resp{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return resp{}, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}, nil
}

// must sends a request and fails the test unless the status is want.
func (e *env) must(want int, method, path string, body any, headers ...string) resp {
	e.t.Helper()
	r := e.do(method, path, body, headers...)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

// fails sends a request and fails the test unless it is an error answer
// with status and code.
func (e *env) fails(status int, code, method, path string, body any, headers ...string) resp {
	e.t.Helper()
	r := e.do(method, path, body, headers...)
	if r.status != status || r.code() != code {
		e.t.Fatalf("%s %s: got %d %s, want %d %s", method, path, r.status, r.body, status, code)
	}
	var eb errorBody
	r.decode(e.t, &eb)
	if eb.Message == "" {
		e.t.Fatalf("%s %s: error answer without a message: %s", method, path, r.body)
	}
	return r
}

// store creates store s in domain default, with an index specification
// when index is not nil.
func (e *env) store(s string, index any) {
	e.t.Helper()
	var body any
	if index != nil {
		body = map[string]any{"index": index}
	}
	e.must(http.StatusCreated, "PUT", "/v1/domains/default/stores/"+esc(s), body)
}

// put writes a JSON value at key of store s in domain default and returns
// its seq.
func (e *env) put(s, key, value string) uint64 {
	e.t.Helper()
	var ans writeAnswer
	e.must(http.StatusOK, "PUT", itemPath(s, key), value).decode(e.t, &ans)
	if ans.Seq == 0 {
		e.t.Fatalf("put %s/%s: seq 0", s, key)
	}
	return ans.Seq
}

// item is an item as answered.
type item struct {
	Key         json.RawMessage `json:"key"`
	KeyBase64   string          `json:"key_base64"`
	Value       json.RawMessage `json:"value"`
	ValueBase64 *string         `json:"value_base64"`
	Version     uint64          `json:"version"`
}

// get reads key of store s in domain default.
func (e *env) get(s, key string) item {
	e.t.Helper()
	var it item
	e.must(http.StatusOK, "GET", itemPath(s, key), nil).decode(e.t, &it)
	return it
}

// itemPath is the path of key in store s of domain default.
func itemPath(s, key string) string {
	return "/v1/domains/default/stores/" + esc(s) + "/items/" + esc(key)
}

// esc percent-encodes every byte but ASCII letters, digits, '-', '_' and
// '~', so "." and ".." survive path cleaning and "/" stays in the key.
func esc(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '~':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// within fails the test when cond does not hold within d, checking
// every few milliseconds.
func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
