package ui_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sopd/sop/ui"
)

// serve answers one request of the UI handler.
func serve(t *testing.T, method, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	ui.Handler().ServeHTTP(rec, req)
	return rec.Result()
}

// TestHandlerAssets: /ui/ is the app's page, the modules are JavaScript,
// every asset the page and the modules name exists, and answers carry a
// content security policy and an ETag that revalidates.
func TestHandlerAssets(t *testing.T) {
	res := serve(t, "GET", "/ui/")
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /ui/: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	for _, ref := range []string{"app.css", "boot.js", "js/app.js", "favicon.svg"} {
		if !strings.Contains(string(body), `"`+ref+`"`) {
			t.Errorf("index.html does not name %s", ref)
		}
	}
	for _, path := range []string{"/ui/app.css", "/ui/boot.js", "/ui/favicon.svg", "/ui/js/app.js", "/ui/js/api.js",
		"/ui/js/dom.js", "/ui/js/stores.js", "/ui/js/browse.js", "/ui/js/item.js", "/ui/js/stream.js",
		"/ui/js/journal.js", "/ui/js/snapshots.js", "/ui/js/status.js"} {
		res := serve(t, "GET", path)
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", path, res.StatusCode)
			continue
		}
		if strings.HasSuffix(path, ".js") && !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
			t.Errorf("GET %s: Content-Type %q: browsers refuse modules that are not JavaScript", path, res.Header.Get("Content-Type"))
		}
	}
	etag := serve(t, "GET", "/ui/js/app.js").Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if res := serve(t, "GET", "/ui/js/app.js", "If-None-Match", etag); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the ETag: %d, want 304", res.StatusCode)
	}
	if res := serve(t, "HEAD", "/ui/"); res.StatusCode != http.StatusOK {
		t.Errorf("HEAD /ui/: %d", res.StatusCode)
	}
}

// TestHandlerRefusals: unknown files are 404 and other methods 405, in
// plain words.
func TestHandlerRefusals(t *testing.T) {
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/ui/nope.js", http.StatusNotFound},
		{"GET", "/ui/js/", http.StatusNotFound},
		{"GET", "/ui/../go.mod", http.StatusNotFound},
		{"GET", "/elsewhere", http.StatusNotFound},
		{"POST", "/ui/", http.StatusMethodNotAllowed},
		{"DELETE", "/ui/js/app.js", http.StatusMethodNotAllowed},
	} {
		res := serve(t, c.method, c.path)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != c.status || len(strings.TrimSpace(string(body))) == 0 {
			t.Errorf("%s %s: %d %q, want %d with a message", c.method, c.path, res.StatusCode, body, c.status)
		}
	}
}
