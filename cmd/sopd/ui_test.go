package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sopd/sop"
	"github.com/sopd/sop/client"
	"github.com/sopd/sop/httpapi"
)

const (
	uiReadToken  = "read-token-0123456789"
	uiWriteToken = "write-token-0123456789"
)

// uiNode serves a node that requires tokens (read and write) and returns
// its URL and an admin-free client of it (write token).
func uiNode(t *testing.T) (string, *client.Client) {
	t.Helper()
	db, err := sop.Open(t.Context(), sop.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := httpapi.ParseTokens(strings.NewReader("read "+uiReadToken+"\nwrite "+uiWriteToken+"\n"), "tokens")
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(db, httpapi.Options{Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		db.Close()
	})
	if _, err := db.CreateStore(t.Context(), "default", "s", nil); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(srv.URL, client.Options{Token: uiWriteToken})
	if err != nil {
		t.Fatal(err)
	}
	return srv.URL, c
}

// proxyGet sends a request through the proxy h and returns the answer.
func proxyDo(t *testing.T, h http.Handler, method, target, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Host = "127.0.0.1:7071"
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// role asks /v1/whoami through the proxy.
func role(t *testing.T, h http.Handler, header ...string) string {
	t.Helper()
	rec := proxyDo(t, h, "GET", "/v1/whoami", "", header...)
	var w struct{ Role string }
	if err := json.Unmarshal(rec.Body.Bytes(), &w); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("whoami through the proxy: %d %s", rec.Code, rec.Body)
	}
	return w.Role
}

// dots is the value of the item ".." of store s ("" when absent), read
// by a scan: the client sends no such key in a path.
func dots(t *testing.T, c *client.Client) string {
	t.Helper()
	for it, err := range c.Scan(t.Context(), "default", "s", client.ScanOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if it.Key.String() == ".." {
			return string(it.Value)
		}
	}
	return ""
}

// TestUIProxy: `sopd ui` serves the UI's assets itself and passes API
// calls to the node unchanged (a key ".." too), adding its token to calls
// without one; a browser's own token wins; other sites' pages and other
// Host names are refused; an unreachable node is a JSON error.
func TestUIProxy(t *testing.T) {
	nodeURL, c := uiNode(t)
	endpoint, _ := url.Parse(nodeURL)
	log := slog.New(slog.DiscardHandler)
	h := newUIProxy(endpoint, uiWriteToken, nil, true, log)

	if rec := proxyDo(t, h, "GET", "/ui/", ""); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "js/app.js") {
		t.Fatalf("GET /ui/: %d %.100s", rec.Code, rec.Body)
	}
	if rec := proxyDo(t, h, "GET", "/", ""); rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/ui/" {
		t.Errorf("GET /: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	if r := role(t, h); r != "write" {
		t.Errorf("with the proxy's token: role %s, want write", r)
	}
	if r := role(t, h, "Authorization", "Bearer "+uiReadToken); r != "read" {
		t.Errorf("with the browser's own token: role %s, want read", r)
	}
	if rec := proxyDo(t, newUIProxy(endpoint, "", nil, true, log), "GET", "/v1/domains", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("without any token: %d, want the node's 401", rec.Code)
	}

	// A key ".." must reach the node as %2E%2E, not be cleaned away.
	rec := proxyDo(t, h, "PUT", "/v1/domains/default/stores/s/items/%2E%2E", `{"dots":2}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("PUT items/%%2E%%2E through the proxy: %d %s", rec.Code, rec.Body)
	}
	if v := dots(t, c); v != `{"dots":2}` {
		t.Fatalf("item .. on the node: %q", v)
	}
	if rec := proxyDo(t, h, "GET", "/readyz", ""); rec.Code != http.StatusOK {
		t.Errorf("GET /readyz through the proxy: %d", rec.Code)
	}

	// Another site's page must not write with the proxy's token.
	rec = proxyDo(t, h, "POST", "/v1/domains/default/txn", `{"success":[{"op":"delete","store":"s","key":".."}]}`,
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"forbidden"`) {
		t.Errorf("cross-site POST: %d %s, want 403 forbidden", rec.Code, rec.Body)
	}
	req := httptest.NewRequest("GET", "/v1/domains", nil)
	req.Host = "rebound.evil.example:7071"
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	if rr.Code != http.StatusForbidden || !strings.Contains(rr.Body.String(), `"forbidden"`) {
		t.Errorf("Host rebound.evil.example: %d %s, want 403 forbidden", rr.Code, rr.Body)
	}
	if v := dots(t, c); v != `{"dots":2}` {
		t.Fatalf("refused requests changed the node: item .. is %q", v)
	}

	// A node that does not answer is a JSON error the UI shows in words.
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL, _ := url.Parse(gone.URL)
	gone.Close()
	rec = proxyDo(t, newUIProxy(goneURL, "", nil, true, log), "GET", "/v1/status", "")
	var e struct{ Error, Message string }
	if json.Unmarshal(rec.Body.Bytes(), &e); rec.Code != http.StatusBadGateway || e.Error != "unavailable" || !strings.Contains(e.Message, "cannot reach the node") {
		t.Errorf("unreachable node: %d %s", rec.Code, rec.Body)
	}
}

// TestUIProxyStreams: a change stream through the proxy starts at once
// (its headers are flushed before any event) and carries each event as
// it commits.
func TestUIProxyStreams(t *testing.T) {
	nodeURL, c := uiNode(t)
	endpoint, _ := url.Parse(nodeURL)
	proxy := httptest.NewServer(newUIProxy(endpoint, uiReadToken, nil, true, slog.New(slog.DiscardHandler)))
	t.Cleanup(func() {
		proxy.CloseClientConnections()
		proxy.Close()
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", proxy.URL+"/v1/domains/default/watch?store=s", nil)
	res, err := http.DefaultClient.Do(req) // returns with the headers, before any event
	if err != nil {
		t.Fatalf("watch through the proxy: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("watch: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	seq, err := c.Put(ctx, "default", "s", client.StringKey("live"), json.RawMessage(`1`))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "data: ") {
			if !strings.Contains(line, `"key":"live"`) || !strings.Contains(line, `"seq":`+jsonUint(seq)) {
				t.Fatalf("event %s, want the put of live at seq %d", line, seq)
			}
			return
		}
	}
	t.Fatalf("the stream ended without the event: %v", sc.Err())
}

func jsonUint(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// syncBuffer is a bytes.Buffer safe for a command writing and a test
// reading at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestUICommand: `sopd ui` listens where --listen says, prints the UI's
// address, proxies with the token of --token-file, and stops when its
// context ends.
func TestUICommand(t *testing.T) {
	clearEnv(t)
	nodeURL, _ := uiNode(t)
	tokenFile := writeFile(t, "token", uiReadToken+"\n")
	var out, errb syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	root := newRootCmd(&streams{in: strings.NewReader(""), out: &out, err: &errb})
	root.SetArgs([]string{"ui", "--endpoint", nodeURL, "--token-file", tokenFile, "--listen", "127.0.0.1:0"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	addr := regexp.MustCompile(`ui=(http://127\.0\.0\.1:\d+/ui/)`)
	deadline := time.Now().Add(10 * time.Second)
	var uiURL string
	for uiURL == "" {
		if m := addr.FindStringSubmatch(errb.String()); m != nil {
			uiURL = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("sopd ui printed no address: %s", errb.String())
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	res, err := http.Get(uiURL)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %v", uiURL, res, err)
	}
	res.Body.Close()
	res, err = http.Get(strings.TrimSuffix(uiURL, "/ui/") + "/v1/whoami")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), `"role":"read"`) {
		t.Errorf("whoami through sopd ui: %s", b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("sopd ui ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sopd ui did not stop when its context ended")
	}
}

// TestUICommandRefuses: a bad endpoint, a token for a non-loopback
// listener, a token given twice and a bad listen address stop the command
// before it serves, saying what to fix.
func TestUICommandRefuses(t *testing.T) {
	tokenFile := writeFile(t, "token", uiReadToken+"\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--endpoint", "ftp://x"}, "is not a node's address"},
		{[]string{"--endpoint", "10.0.0.5:7070"}, "is not a node's address"},
		{[]string{"--token", uiReadToken, "--listen", "0.0.0.0:7071"}, "reachable from other machines"},
		{[]string{"--token", uiReadToken, "--token-file", tokenFile}, "give the token one way"},
		{[]string{"--listen", "nowhere"}, "not host:port"},
		{[]string{"extra"}, "takes 0 arguments"},
	} {
		clearEnv(t)
		var out, errb bytes.Buffer
		code := run(append([]string{"ui"}, c.args...), strings.NewReader(""), &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("sopd ui %s: exit %d, stderr %q, want %q", strings.Join(c.args, " "), code, errb.String(), c.want)
		}
	}
}
