package client_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sopd/sop/client"
)

// fakeNode answers the few routes the leader routing uses and records
// every request as "METHOD path?query".
type fakeNode struct {
	srv *httptest.Server

	mu         sync.Mutex
	requests   []string
	members    []client.Member // what GET /v1/status lists
	statusFail bool            // GET /v1/status answers 503
	seq        uint64          // what writes answer
}

func newFakeNode(t *testing.T, seq uint64) *fakeNode {
	f := &fakeNode{seq: seq}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeNode) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	line := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		line += "?" + r.URL.RawQuery
	}
	f.requests = append(f.requests, line)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/v1/status" && f.statusFail:
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":"unavailable","message":"journal unavailable"}`)
	case r.URL.Path == "/v1/status":
		json.NewEncoder(w).Encode(client.Status{Node: "endpoint", Members: f.members})
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/items"):
		fmt.Fprint(w, `{"items":[]}`)
	case r.Method == http.MethodGet:
		fmt.Fprint(w, `{"key":"k","value":1,"version":1}`)
	case strings.HasSuffix(r.URL.Path, "/txn"):
		fmt.Fprintf(w, `{"succeeded":true,"seq":%d}`, f.seq)
	case r.Method == http.MethodPost:
		fmt.Fprintf(w, `{"seq":%d,"key":["a",1]}`, f.seq)
	default:
		fmt.Fprintf(w, `{"seq":%d}`, f.seq)
	}
}

// seen is what f was asked, and forgets it.
func (f *fakeNode) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.requests
	f.requests = nil
	return out
}

// cluster is an endpoint that follows domain "default", led by leader.
func cluster(t *testing.T, leaderURL string) (endpoint, leader *fakeNode) {
	endpoint, leader = newFakeNode(t, 0), newFakeNode(t, 42)
	if leaderURL == "" {
		leaderURL = leader.srv.URL
	}
	endpoint.members = []client.Member{
		{Node: "endpoint", Advertise: endpoint.srv.URL, Roles: map[string]string{"default": "follower", "other": "leader"}},
		{Node: "leader", Advertise: leaderURL + "/", Roles: map[string]string{"default": "leader", "other": "follower"}},
	}
	return endpoint, leader
}

func wantRequests(t *testing.T, who string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s was asked:\n  %s\nwant:\n  %s", who, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestWriteToLeader: with WriteToLeader the client learns the leaders
// from its endpoint's status, sends each write of a domain to its leader
// and each read to the endpoint, waiting there for its last write; a
// domain the endpoint itself leads is written through the endpoint.
func TestWriteToLeader(t *testing.T) {
	endpoint, leader := cluster(t, "")
	c, err := client.New(endpoint.srv.URL, client.Options{WriteToLeader: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	k := client.StringKey("k")
	if seq, err := c.Put(ctx, "default", "s", k, json.RawMessage(`1`)); err != nil || seq != 42 {
		t.Fatalf("put: %d, %v", seq, err)
	}
	if _, err := c.Delete(ctx, "default", "s", k); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PutDoc(ctx, "default", "ix", json.RawMessage(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if res, err := c.Txn(ctx, "default", client.TxnRequest{Success: []client.Op{client.OpPut("s", k, json.RawMessage(`2`))}}); err != nil || res.Seq != 42 {
		t.Fatalf("txn: %+v, %v", res, err)
	}
	wantRequests(t, "the endpoint", endpoint.seen(), "GET /v1/status")
	wantRequests(t, "the leader", leader.seen(),
		"PUT /v1/domains/default/stores/s/items/k", "DELETE /v1/domains/default/stores/s/items/k",
		"POST /v1/domains/default/stores/ix/items", "POST /v1/domains/default/txn")

	// Reads wait on the endpoint for the last write, unless told otherwise.
	if _, err := c.Get(ctx, "default", "s", k); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "default", "s", k, client.GetOptions{MinSeq: 7}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "default", "s", k, client.GetOptions{Linearizable: true}); err != nil {
		t.Fatal(err)
	}
	for _, err := range c.Scan(ctx, "default", "s", client.ScanOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Get(ctx, "other", "s", k); err != nil {
		t.Fatal(err) // no write to "other" yet: no wait
	}
	wantRequests(t, "the endpoint", endpoint.seen(),
		"GET /v1/domains/default/stores/s/items/k?min_seq=42", "GET /v1/domains/default/stores/s/items/k?min_seq=7",
		"GET /v1/domains/default/stores/s/items/k?linearizable=true", "GET /v1/domains/default/stores/s/items?min_seq=42",
		"GET /v1/domains/other/stores/s/items/k")

	// The endpoint leads "other": its writes stay there.
	if _, err := c.Put(ctx, "other", "s", k, json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	wantRequests(t, "the endpoint", endpoint.seen(), "PUT /v1/domains/other/stores/s/items/k")
	wantRequests(t, "the leader", leader.seen())
}

// TestWriteToLeaderUnreachable: a leader the client cannot connect to
// (nothing was sent) gets the write sent through the endpoint instead,
// and is set aside for the next writes.
func TestWriteToLeaderUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	endpoint, _ := cluster(t, closed)
	c, err := client.New(endpoint.srv.URL, client.Options{WriteToLeader: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	for range 2 {
		if _, err := c.Put(ctx, "default", "s", client.StringKey("k"), json.RawMessage(`1`)); err != nil {
			t.Fatal(err)
		}
	}
	got := slices.DeleteFunc(endpoint.seen(), func(s string) bool { return s == "GET /v1/status" })
	wantRequests(t, "the endpoint", got, "PUT /v1/domains/default/stores/s/items/k", "PUT /v1/domains/default/stores/s/items/k")
}

// TestWriteToLeaderSentOnce: a write that reached the leader and then
// lost its connection may have committed, so it is not sent again
// through the endpoint: the caller gets the error.
func TestWriteToLeaderSentOnce(t *testing.T) {
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(cut.Close)
	endpoint, _ := cluster(t, cut.URL)
	c, err := client.New(endpoint.srv.URL, client.Options{WriteToLeader: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctxT(t), "default", "s", client.StringKey("k"), json.RawMessage(`1`)); err == nil {
		t.Fatal("a write whose connection was cut after sending succeeded")
	}
	wantRequests(t, "the endpoint", endpoint.seen(), "GET /v1/status")
}

// TestWithoutWriteToLeader: by default every request goes to the
// endpoint as given, without a status request or an added min_seq.
func TestWithoutWriteToLeader(t *testing.T) {
	endpoint, leader := cluster(t, "")
	c, err := client.New(endpoint.srv.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if _, err := c.Put(ctx, "default", "s", client.StringKey("k"), json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "default", "s", client.StringKey("k")); err != nil {
		t.Fatal(err)
	}
	wantRequests(t, "the endpoint", endpoint.seen(), "PUT /v1/domains/default/stores/s/items/k", "GET /v1/domains/default/stores/s/items/k")
	wantRequests(t, "the leader", leader.seen())
}

// TestWriteToLeaderStatusFails: when the endpoint cannot say who leads,
// writes go through the endpoint.
func TestWriteToLeaderStatusFails(t *testing.T) {
	endpoint, leader := cluster(t, "")
	endpoint.statusFail = true
	c, err := client.New(endpoint.srv.URL, client.Options{WriteToLeader: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctxT(t), "default", "s", client.StringKey("k"), json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	wantRequests(t, "the endpoint", endpoint.seen(), "GET /v1/status", "PUT /v1/domains/default/stores/s/items/k")
	wantRequests(t, "the leader", leader.seen())
}
