package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

// TestWhoami: GET /v1/whoami answers the role of the caller's token, and
// admin on a node without authentication; without a valid token it is
// 401 like every /v1 call.
func TestWhoami(t *testing.T) {
	open := newEnv(t, Options{})
	var w whoamiJSON
	open.must(http.StatusOK, "GET", "/v1/whoami", nil).decode(t, &w)
	if w != (whoamiJSON{Role: "admin", Auth: false}) {
		t.Errorf("without authentication: %+v", w)
	}
	open.fails(http.StatusBadRequest, "bad_param", "GET", "/v1/whoami?x=1", nil)
	open.fails(http.StatusMethodNotAllowed, "method_not_allowed", "POST", "/v1/whoami", nil)

	tok, err := ParseTokens(strings.NewReader(tokenFile), "tokens")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Options{Tokens: tok})
	for token, role := range map[string]string{readToken: "read", writeToken: "write", adminToken: "admin"} {
		var w whoamiJSON
		e.must(http.StatusOK, "GET", "/v1/whoami", nil, "Authorization", "Bearer "+token).decode(t, &w)
		if w != (whoamiJSON{Role: role, Auth: true}) {
			t.Errorf("token of role %s: %+v", role, w)
		}
	}
	e.fails(http.StatusUnauthorized, "unauthorized", "GET", "/v1/whoami", nil)
	e.fails(http.StatusUnauthorized, "unauthorized", "GET", "/v1/whoami", nil, "Authorization", "Bearer not-a-token-of-this-node")
	e.fails(http.StatusUnauthorized, "unauthorized", "GET", "/v1/whoami?access_token="+readToken, nil)
}

// TestUIMounted: the Web UI is served at /ui/ without a token, also on a
// node with authentication; /ui and / lead there; the API is unchanged
// around it.
func TestUIMounted(t *testing.T) {
	tok, err := ParseTokens(strings.NewReader(tokenFile), "tokens")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Options{Tokens: tok})
	r := e.must(http.StatusOK, "GET", "/ui/", nil)
	if !strings.Contains(string(r.body), `<script type="module" src="js/app.js">`) || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /ui/: %s %.200s", r.header.Get("Content-Type"), r.body)
	}
	if r := e.must(http.StatusOK, "GET", "/ui/js/api.js", nil); !strings.HasPrefix(r.header.Get("Content-Type"), "text/javascript") {
		t.Errorf("GET /ui/js/api.js: Content-Type %q", r.header.Get("Content-Type"))
	}
	e.must(http.StatusOK, "HEAD", "/ui/app.css", nil)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/ui", "/"} {
		res, err := noFollow.Get(e.ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/ui/" {
			t.Errorf("GET %s: %d Location %q, want 301 to /ui/", p, res.StatusCode, res.Header.Get("Location"))
		}
	}
	r = e.do("GET", "/ui/nope.js", nil)
	if r.status != http.StatusNotFound {
		t.Errorf("GET /ui/nope.js: %d", r.status)
	}
	e.fails(http.StatusMethodNotAllowed, "method_not_allowed", "POST", "/ui/", nil)
	e.fails(http.StatusNotFound, "not_found", "GET", "/uix", nil)
	e.fails(http.StatusUnauthorized, "unauthorized", "GET", "/v1/domains", nil)
}
