package main

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sopd/sop"
	"github.com/sopd/sop/client"
	"github.com/sopd/sop/httpapi"
)

// inProcessNode serves a real node over httptest for in-process command
// tests.
func inProcessNode(t *testing.T) (*client.Client, string) {
	t.Helper()
	c, url, _ := serveNode(t, sop.Options{Dir: t.TempDir()})
	return c, url
}

// serveNode opens a node with opts and serves it over httptest; stop
// (also run at cleanup, once) stops it.
func serveNode(t *testing.T, opts sop.Options) (c *client.Client, url string, stop func()) {
	t.Helper()
	db, err := sop.Open(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(db, httpapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	stop = sync.OnceFunc(func() {
		srv.CloseClientConnections()
		srv.Close()
		if err := db.Close(); err != nil {
			t.Errorf("close the node in %s: %v", opts.Dir, err)
		}
	})
	t.Cleanup(stop)
	if c, err = client.New(srv.URL, client.Options{}); err != nil {
		t.Fatal(err)
	}
	return c, srv.URL, stop
}

// TestWatchCommandOutlivesTimeout: --timeout bounds the connection, not
// the watch.
func TestWatchCommandOutlivesTimeout(t *testing.T) {
	clearEnv(t)
	c, url := inProcessNode(t)
	ctx := t.Context()
	if _, err := c.CreateStore(ctx, "default", "s", nil); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	done := make(chan int)
	go func() {
		done <- run([]string{"watch", "--endpoint", url, "--timeout", "200ms", "--from", "2", "--count", "2"}, strings.NewReader(""), &out, &errb)
	}()
	if _, err := c.Put(ctx, "default", "s", client.StringKey("early"), json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // past --timeout: what is tested is that nothing happens
	if _, err := c.Put(ctx, "default", "s", client.StringKey("late"), json.RawMessage(`2`)); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("watch exited %d: %s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("watch --count 2 did not end after two events")
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"key":"early"`) || !strings.Contains(lines[1], `"key":"late"`) {
		t.Errorf("watch printed %q", out.String())
	}
}

// TestCommandErrors: a failed call exits 1 with the server's code and
// message on standard error, and nothing on standard output.
func TestCommandErrors(t *testing.T) {
	clearEnv(t)
	_, url := inProcessNode(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "nostore", "k"}, "store_not_found (HTTP 404)"},
		{[]string{"put", "nostore", "k", "{bad"}, "not JSON"},
		{[]string{"del", "s", ".."}, "cannot travel in a URL path"},
		{[]string{"get", "s"}, "takes 2 arguments"},
		{[]string{"scan", "s", "--limit", "0"}, "out of range"},
		{[]string{"store", "create", "x", "--index", "a:up"}, "field[:asc|desc]"},
		{[]string{"txn", "--file", "/nonexistent.json"}, "read the transaction"},
		{[]string{"snapshot", "--domain", "nodomain"}, "domain_not_found (HTTP 404)"},
	} {
		var out, errb bytes.Buffer
		code := run(append(tc.args, "--endpoint", url), strings.NewReader(""), &out, &errb)
		if code != 1 || out.Len() != 0 || !strings.HasPrefix(errb.String(), "sopd: ") || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("sopd %v: exit %d, stdout %q, stderr %q; want exit 1 and %q", tc.args, code, out.String(), errb.String(), tc.want)
		}
	}
}
