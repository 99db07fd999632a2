package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sopd/sop"
	"github.com/sopd/sop/client"
	"github.com/sopd/sop/httpapi"
)

// node is a real sop.DB behind a real httpapi server.
type node struct {
	db  *sop.DB
	srv *httptest.Server
	c   *client.Client
}

// newNode starts a node in a temporary directory; opts may set Tokens.
func newNode(t *testing.T, opts httpapi.Options) *node {
	t.Helper()
	db, err := sop.Open(t.Context(), sop.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(db, opts)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		db.Close()
	})
	c, err := client.New(srv.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &node{db: db, srv: srv, c: c}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustCreate(t *testing.T, c *client.Client, store string, index []client.IndexField) {
	t.Helper()
	if _, err := c.CreateStore(ctxT(t), "default", store, index); err != nil {
		t.Fatalf("create store %s: %v", store, err)
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		want     string // "" for an error
	}{
		{"http://127.0.0.1:7070", "http://127.0.0.1:7070"},
		{"127.0.0.1:7070", "http://127.0.0.1:7070"},
		{"https://sop.example.com/base/", "https://sop.example.com/base"},
		{"ftp://x", ""},
		{"http://", ""},
		{"http://h:1/?q=1", ""},
	} {
		c, err := client.New(tc.endpoint, client.Options{})
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("New(%q) = %s, want an error", tc.endpoint, c.Endpoint())
		case tc.want != "" && err != nil:
			t.Errorf("New(%q): %v", tc.endpoint, err)
		case tc.want != "" && c.Endpoint() != tc.want:
			t.Errorf("New(%q).Endpoint() = %q, want %q", tc.endpoint, c.Endpoint(), tc.want)
		}
	}
	if _, err := client.New("http://h:1", client.Options{HTTPClient: http.DefaultClient, TLSConfig: nil}); err != nil {
		t.Errorf("HTTPClient alone: %v", err)
	}
}

func TestDomainsAndStores(t *testing.T) {
	n := newNode(t, httpapi.Options{})
	ctx := ctxT(t)
	created, err := n.c.CreateDomain(ctx, "orders")
	if err != nil || !created {
		t.Fatalf("CreateDomain = %v, %v; want true, nil", created, err)
	}
	if created, err = n.c.CreateDomain(ctx, "orders"); err != nil || created {
		t.Fatalf("CreateDomain again = %v, %v; want false, nil", created, err)
	}
	names, err := n.c.Domains(ctx)
	if err != nil || strings.Join(names, ",") != "default,orders" {
		t.Fatalf("Domains = %v, %v", names, err)
	}
	if _, err := n.c.CreateDomain(ctx, "bad name"); !errors.Is(err, client.ErrBadRequest) {
		t.Fatalf("CreateDomain(bad name) = %v, want ErrBadRequest", err)
	}

	idx := []client.IndexField{{Field: "last"}, {Field: "age", Order: "desc"}}
	if created, err = n.c.CreateStore(ctx, "orders", "people", idx); err != nil || !created {
		t.Fatalf("CreateStore = %v, %v", created, err)
	}
	if created, err = n.c.CreateStore(ctx, "orders", "people", idx); err != nil || created {
		t.Fatalf("CreateStore again = %v, %v; want false, nil", created, err)
	}
	if _, err = n.c.CreateStore(ctx, "orders", "people", nil); !errors.Is(err, client.ErrStoreExists) {
		t.Fatalf("CreateStore with another index = %v, want ErrStoreExists", err)
	}
	if _, err = n.c.CreateStore(ctx, "orders", "plain", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := n.c.Put(ctx, "orders", "plain", client.StringKey("k"), json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	stores, err := n.c.Stores(ctx, "orders")
	if err != nil || len(stores) != 2 {
		t.Fatalf("Stores = %+v, %v", stores, err)
	}
	if s := stores[0]; s.Name != "people" || len(s.Index) != 2 || s.Index[1].Field != "age" || s.Index[1].Order != "desc" {
		t.Errorf("stores[0] = %+v", s)
	}
	if s := stores[1]; s.Name != "plain" || len(s.Index) != 0 || s.Count != 1 {
		t.Errorf("stores[1] = %+v", s)
	}
	seq, err := n.c.DropStore(ctx, "orders", "plain")
	if err != nil || seq == 0 {
		t.Fatalf("DropStore = %d, %v", seq, err)
	}
	if _, err := n.c.Get(ctx, "orders", "plain", client.StringKey("k")); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Get in a dropped store = %v, want ErrNotFound", err)
	}
	if _, err := n.c.Stores(ctx, "nope"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Stores(nope) = %v, want ErrNotFound", err)
	}
}

// keys that need escaping in a path.
var awkwardKeys = []string{"a/b", "50%", "x?y=1&z", "#frag", "sp ace", "ünï/cødé", "+plus", "a%2Fb", "..x", "trailing/"}

func TestItems(t *testing.T) {
	n := newNode(t, httpapi.Options{})
	ctx := ctxT(t)
	mustCreate(t, n.c, "s", nil)
	for _, k := range awkwardKeys {
		value := json.RawMessage(fmt.Sprintf(`{"key":%q,"n":[1,2.5,null,"<&>"]}`, k))
		seq, err := n.c.Put(ctx, "default", "s", client.StringKey(k), value)
		if err != nil {
			t.Fatalf("Put(%q): %v", k, err)
		}
		it, err := n.c.Get(ctx, "default", "s", client.StringKey(k), client.GetOptions{MinSeq: seq})
		if err != nil {
			t.Fatalf("Get(%q): %v", k, err)
		}
		if it.Key.String() != k || it.Key.IsIndex() || string(it.Value) != string(value) || it.Version != seq {
			t.Errorf("Get(%q) = key %q value %s version %d; want %q %s %d", k, it.Key, it.Value, it.Version, k, value, seq)
		}
	}
	got := 0
	for it, err := range n.c.Scan(ctx, "default", "s", client.ScanOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		got++
		if _, err := n.c.Get(ctx, "default", "s", it.Key, client.GetOptions{Linearizable: true}); err != nil {
			t.Errorf("Get of scanned key %q: %v", it.Key, err)
		}
	}
	if got != len(awkwardKeys) {
		t.Errorf("scan found %d items, want %d", got, len(awkwardKeys))
	}
}

func TestConditionsAndErrors(t *testing.T) {
	n := newNode(t, httpapi.Options{})
	ctx := ctxT(t)
	mustCreate(t, n.c, "s", nil)
	k := client.StringKey("k")
	v1, err := n.c.Put(ctx, "default", "s", k, json.RawMessage(`"one"`), client.PutOptions{IfAbsent: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.c.Put(ctx, "default", "s", k, json.RawMessage(`"two"`), client.PutOptions{IfAbsent: true})
	var e *client.Error
	if !errors.Is(err, client.ErrConditionFailed) || !errors.As(err, &e) || e.StatusCode != 409 || e.Code != "condition_failed" || e.Message == "" {
		t.Fatalf("Put if absent over an item = %#v, want a 409 condition_failed", err)
	}
	if errors.Is(err, client.ErrConflict) || errors.Is(err, client.ErrNotFound) {
		t.Errorf("condition_failed matches other sentinels: %v", err)
	}
	if _, err := n.c.Put(ctx, "default", "s", k, json.RawMessage(`"two"`), client.PutOptions{IfVersion: v1 + 100}); !errors.Is(err, client.ErrConditionFailed) {
		t.Fatalf("Put with a wrong version = %v, want ErrConditionFailed", err)
	}
	v2, err := n.c.Put(ctx, "default", "s", k, json.RawMessage(`"two"`), client.PutOptions{IfVersion: v1})
	if err != nil || v2 <= v1 {
		t.Fatalf("Put with the right version = %d, %v", v2, err)
	}
	if _, err := n.c.Delete(ctx, "default", "s", k, client.DeleteOptions{IfVersion: v1}); !errors.Is(err, client.ErrConditionFailed) {
		t.Fatalf("Delete with an old version = %v, want ErrConditionFailed", err)
	}
	if _, err := n.c.Delete(ctx, "default", "s", k, client.DeleteOptions{IfVersion: v2}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.c.Get(ctx, "default", "s", k); !errors.Is(err, client.ErrNotFound) || !errors.As(err, &e) || e.Code != "key_not_found" {
		t.Fatalf("Get after delete = %v, want key_not_found", err)
	}
	if _, err := n.c.Get(ctx, "default", "nostore", k); !errors.Is(err, client.ErrNotFound) || !errors.As(err, &e) || e.Code != "store_not_found" {
		t.Fatalf("Get in a missing store = %v, want store_not_found", err)
	}
	if _, err := n.c.Get(ctx, "nodomain", "s", k); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Get in a missing domain = %v, want ErrNotFound", err)
	}
	if _, err := n.c.Put(ctx, "default", "s", client.StringKey(strings.Repeat("x", 5000)), json.RawMessage(`1`)); !errors.Is(err, client.ErrTooLarge) {
		t.Fatalf("Put of a 5000-byte key = %v, want ErrTooLarge", err)
	}

	// Refused by the client, before any request.
	for name, err := range map[string]error{
		"value not JSON": second(n.c.Put(ctx, "default", "s", k, json.RawMessage(`{nope`))),
		"empty key":      second(n.c.Put(ctx, "default", "s", client.StringKey(""), json.RawMessage(`1`))),
		"both options":   second(n.c.Put(ctx, "default", "s", k, json.RawMessage(`1`), client.PutOptions{IfAbsent: true, IfVersion: 3})),
		"dot key":        second(n.c.Delete(ctx, "default", "s", client.StringKey(".."))),
	} {
		if !errors.Is(err, client.ErrBadRequest) || errors.As(err, &e) {
			t.Errorf("%s: %v, want a local ErrBadRequest", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestIndexStore(t *testing.T) {
	n := newNode(t, httpapi.Options{})
	ctx := ctxT(t)
	mustCreate(t, n.c, "people", []client.IndexField{{Field: "last"}, {Field: "age", Order: "desc"}})
	docs := []string{
		`{"last":"Smith","age":42,"first":"Ann"}`,
		`{"last":"Smith","age":7,"first":"Bob"}`,
		`{"last":"Jones","age":30,"first":"Cy"}`,
	}
	for _, d := range docs {
		if _, _, err := n.c.PutDoc(ctx, "default", "people", json.RawMessage(d)); err != nil {
			t.Fatalf("PutDoc(%s): %v", d, err)
		}
	}
	_, _, err := n.c.PutDoc(ctx, "default", "people", json.RawMessage(docs[0]), client.PutOptions{IfAbsent: true})
	if !errors.Is(err, client.ErrConditionFailed) {
		t.Fatalf("PutDoc if absent of an existing document = %v, want ErrConditionFailed", err)
	}
	seq, key, err := n.c.PutDoc(ctx, "default", "people", json.RawMessage(`{"last":"Young","age":1}`))
	if err != nil || !key.IsIndex() || key.String() != `["Young",1]` {
		t.Fatalf("PutDoc = %d, %s, %v; want key [\"Young\",1]", seq, key, err)
	}
	for _, k := range []client.Key{client.IndexKey("Smith", 42), client.IndexKeyJSON(` [ "Smith" , 42 ] `), key} {
		it, err := n.c.Get(ctx, "default", "people", k)
		if err != nil {
			t.Fatalf("Get(%s): %v", k, err)
		}
		if !it.Key.IsIndex() {
			t.Errorf("Get(%s).Key = %s, not an index key", k, it.Key)
		}
	}
	var order []string
	for it, err := range n.c.Scan(ctx, "default", "people", client.ScanOptions{Prefix: client.IndexKey("Smith")}) {
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, it.Key.String())
	}
	if want := `["Smith",42] ["Smith",7]`; strings.Join(order, " ") != want {
		t.Errorf("scan of prefix [Smith] = %v, want %s (age descending)", order, want)
	}
	// A key given as a bare string where the store wants an array.
	if _, err := n.c.Get(ctx, "default", "people", client.StringKey("Smith")); !errors.Is(err, client.ErrBadRequest) {
		t.Errorf("Get with a string key in an index store = %v, want ErrBadRequest", err)
	}
	// Keys that cannot be built fail before any request.
	for _, k := range []client.Key{client.IndexKeyJSON(`{"a":1}`), client.IndexKeyJSON(`[1`), client.IndexKey(make(chan int))} {
		if _, err := n.c.Get(ctx, "default", "people", k); !errors.Is(err, client.ErrBadRequest) || k.Err() == nil {
			t.Errorf("Get(bad key %v) = %v, want ErrBadRequest", k, err)
		}
	}
}

func TestKeyJSON(t *testing.T) {
	for _, k := range []client.Key{client.StringKey("a\"b/c"), client.IndexKey("Smith", 42.5, nil, true), client.IndexKeyJSON(`[ "x" ]`)} {
		b, err := json.Marshal(struct{ K client.Key }{k})
		if err != nil {
			t.Fatal(err)
		}
		var back struct{ K client.Key }
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.K != k {
			t.Errorf("round trip of %s through %s = %#v", k, b, back.K)
		}
	}
	if _, err := json.Marshal(client.IndexKey(make(chan int))); err == nil {
		t.Error("Marshal of a key that could not be built succeeded")
	}
	var k client.Key
	if err := json.Unmarshal([]byte(`42`), &k); err == nil {
		t.Error("Unmarshal of 42 into a Key succeeded")
	}
}

// countingTransport counts the requests that pass it.
type countingTransport struct {
	n atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestScanPages(t *testing.T) {
	n := newNode(t, httpapi.Options{})
	ctx := ctxT(t)
	mustCreate(t, n.c, "s", nil)
	var want []string
	for i := range 53 {
		k := fmt.Sprintf("k%03d", i)
		want = append(want, k)
		if _, err := n.c.Put(ctx, "default", "s", client.StringKey(k), json.RawMessage(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	tr := &countingTransport{}
	c, err := client.New(n.srv.URL, client.Options{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	scan := func(o client.ScanOptions) []string {
		t.Helper()
		var keys []string
		for it, err := range c.Scan(ctx, "default", "s", o) {
			if err != nil {
				t.Fatalf("scan %+v: %v", o, err)
			}
			keys = append(keys, it.Key.String())
		}
		return keys
	}
	check := func(name string, got, want []string, requests int64) {
		t.Helper()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
		if n := tr.n.Swap(0); n != requests {
			t.Errorf("%s: %d requests, want %d", name, n, requests)
		}
	}
	check("all, pages of 5", scan(client.ScanOptions{PageSize: 5}), want, 11)
	check("all, server's page", scan(client.ScanOptions{}), want, 1)
	check("limit 12, pages of 5", scan(client.ScanOptions{Limit: 12, PageSize: 5}), want[:12], 3)
	rev := make([]string, 0, len(want))
	for i := len(want) - 1; i >= 0; i-- {
		rev = append(rev, want[i])
	}
	check("reverse, pages of 4", scan(client.ScanOptions{Reverse: true, PageSize: 4}), rev, 14)
	check("prefix k01", scan(client.ScanOptions{Prefix: client.StringKey("k01"), PageSize: 3}), want[10:20], 4)
	check("start k040 end k045", scan(client.ScanOptions{Start: client.StringKey("k040"), End: client.StringKey("k045"), PageSize: 2}), want[40:45], 3)

	// Stopping early stops asking.
	for range c.Scan(ctx, "default", "s", client.ScanOptions{PageSize: 2}) {
		break
	}
	if got := tr.n.Swap(0); got != 1 {
		t.Errorf("a scan stopped after one item made %d requests, want 1", got)
	}
	for _, err := range c.Scan(ctx, "default", "nope", client.ScanOptions{}) {
		if !errors.Is(err, client.ErrNotFound) {
			t.Errorf("scan of a missing store: %v, want ErrNotFound", err)
		}
	}
}

func TestTxn(t *testing.T) {
	n := newNode(t, httpapi.Options{})
	ctx := ctxT(t)
	mustCreate(t, n.c, "a", nil)
	v, err := n.c.Put(ctx, "default", "a", client.StringKey("k"), json.RawMessage(`1`))
	if err != nil {
		t.Fatal(err)
	}
	req := client.TxnRequest{
		Compare: []client.Compare{{Store: "a", Key: client.StringKey("k"), Version: v}, {Store: "a", Key: client.StringKey("n"), Absent: true}},
		Success: []client.Op{client.OpPut("a", client.StringKey("k"), json.RawMessage(`{"x":1}`)), client.OpPut("a", client.StringKey("n"), json.RawMessage(`2`))},
		Failure: []client.Op{client.OpDelete("a", client.StringKey("k"))},
	}
	res, err := n.c.Txn(ctx, "default", req)
	if err != nil || !res.Succeeded || res.Seq <= v {
		t.Fatalf("Txn = %+v, %v; want success", res, err)
	}
	res2, err := n.c.Txn(ctx, "default", req) // the compares fail now: the failure branch runs
	if err != nil || res2.Succeeded || res2.Seq <= res.Seq {
		t.Fatalf("Txn again = %+v, %v; want the failure branch", res2, err)
	}
	if _, err := n.c.Get(ctx, "default", "a", client.StringKey("k")); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("k after the failure branch: %v, want deleted", err)
	}
	if it, err := n.c.Get(ctx, "default", "a", client.StringKey("n")); err != nil || string(it.Value) != "2" || it.Version != res.Seq {
		t.Fatalf("n = %+v, %v", it, err)
	}

	idem := client.TxnRequest{Success: []client.Op{client.OpPut("a", client.StringKey("i"), json.RawMessage(`1`))}, IdempotencyKey: "txn-once-1234567"}
	first, err := n.c.Txn(ctx, "default", idem)
	if err != nil || !first.Succeeded {
		t.Fatalf("idempotent Txn = %+v, %v", first, err)
	}
	again, err := n.c.Txn(ctx, "default", idem)
	if err != nil || !again.AlreadyCommitted || again.Seq != first.Seq {
		t.Fatalf("idempotent Txn retried = %+v, %v; want already committed at %d", again, err, first.Seq)
	}
	if _, err := n.c.TxnJSON(ctx, "default", json.RawMessage(`{"success":[{"op":"frob","store":"a","key":"k"}]}`), ""); !errors.Is(err, client.ErrBadRequest) {
		t.Fatalf("Txn with a bad op = %v, want ErrBadRequest", err)
	}
}

func TestAuth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	const reader, writer = "reader-0123456789abcdef", "writer-0123456789abcdef"
	if err := os.WriteFile(path, []byte("read "+reader+"\nwrite "+writer+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := httpapi.LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	n := newNode(t, httpapi.Options{Tokens: tokens})
	ctx := ctxT(t)
	as := func(token string) *client.Client {
		c, err := client.New(n.srv.URL, client.Options{Token: token})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := as("").Domains(ctx); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("no token: %v, want ErrUnauthorized", err)
	}
	if _, err := as("wrong-0123456789abcdef").Domains(ctx); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("a wrong token: %v, want ErrUnauthorized", err)
	}
	if _, err := as(reader).Domains(ctx); err != nil {
		t.Errorf("reader lists domains: %v", err)
	}
	if _, err := as(reader).CreateStore(ctx, "default", "s", nil); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("reader creates a store: %v, want ErrForbidden", err)
	}
	if _, err := as(writer).Put(ctx, "default", "s", client.StringKey("k"), json.RawMessage(`1`)); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("writer puts into a missing store: %v, want ErrNotFound", err)
	}
}

func TestStatusAndHash(t *testing.T) {
	n := newNode(t, httpapi.Options{Version: "v9.9.9"})
	ctx := ctxT(t)
	mustCreate(t, n.c, "s", nil)
	seq, err := n.c.Put(ctx, "default", "s", client.StringKey("k"), json.RawMessage(`1`))
	if err != nil {
		t.Fatal(err)
	}
	st, err := n.c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Node != n.db.Node() || st.Version != "v9.9.9" || len(st.Domains) != 1 {
		t.Fatalf("Status = %+v", st)
	}
	if d := st.Domains[0]; d.Name != "default" || d.Role != "leader" || d.JournalLastSeq != seq || d.AppliedSeq != seq {
		t.Errorf("domain status = %+v, want default leader at seq %d", d, seq)
	}
	hseq, sum, err := n.c.Hash(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	wseq, want, err := n.db.Hash("default")
	if err != nil {
		t.Fatal(err)
	}
	if hseq != wseq || string(sum) != string(want) || len(sum) != 32 {
		t.Errorf("Hash = %d %x, want %d %x", hseq, sum, wseq, want)
	}
	snap, err := n.c.TakeSnapshot(ctx, "default")
	if err != nil || snap.Seq != hseq || snap.ID == "" {
		t.Errorf("TakeSnapshot = %+v, %v; want one at seq %d", snap, err, hseq)
	}
	if list, err := n.c.Snapshots(ctx, "default"); err != nil || len(list) != 1 || list[0].ID != snap.ID {
		t.Errorf("Snapshots = %+v, %v; want the one taken", list, err)
	}
	if err := n.c.Ready(ctx); err != nil {
		t.Errorf("Ready: %v", err)
	}
}

// TestErrorAnswers covers answers the real server does not give on
// demand: a proxy's HTML page, Retry-After, and the 410 body.
func TestErrorAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("min_seq") {
		case "1":
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "<html>bad gateway</html>")
		case "2":
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":"not_ready","message":"wait"}`)
		case "5":
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		case "3":
			w.WriteHeader(http.StatusGone)
			fmt.Fprint(w, `{"error":"compacted","message":"gone","first_seq":77,"snapshot":null}`)
		default:
			w.WriteHeader(http.StatusTeapot)
			fmt.Fprint(w, `{"error":"brand_new","message":"?"}`)
		}
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	get := func(minSeq uint64) *client.Error {
		_, err := c.Get(ctxT(t), "d", "s", client.StringKey("k"), client.GetOptions{MinSeq: minSeq})
		var e *client.Error
		if !errors.As(err, &e) {
			t.Fatalf("Get: %v, want a *client.Error", err)
		}
		return e
	}
	if e := get(1); !errors.Is(e, client.ErrUnavailable) || e.Message != "<html>bad gateway</html>" || e.Code != "" {
		t.Errorf("502 page: %#v", e)
	}
	if e := get(2); !errors.Is(e, client.ErrUnavailable) || e.RetryAfter != 3*time.Second {
		t.Errorf("503: %#v", e)
	}
	if e := get(3); !errors.Is(e, client.ErrCompacted) || e.FirstSeq != 77 {
		t.Errorf("410: %#v", e)
	}
	if e := get(5); e.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("a redirect was followed, or not reported: %#v", e)
	}
	if e := get(4); e.StatusCode != http.StatusTeapot || e.Code != "brand_new" || errors.Is(e, client.ErrBadRequest) {
		t.Errorf("unknown code: %#v", e)
	}
}
