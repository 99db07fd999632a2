package httpapi

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	readToken  = "read-token-0123456789"
	writeToken = "write-token-0123456789"
	adminToken = "admin-token-0123456789"
)

// tokenFile is a token file with one token per role.
const tokenFile = `# sop tokens
read ` + readToken + `

write	` + writeToken + `
  admin ` + adminToken + `  
`

func TestLoadTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(tokenFile), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	for secret, want := range map[string]Role{readToken: RoleRead, writeToken: RoleWrite, adminToken: RoleAdmin} {
		if got, ok := tok.role(secret); !ok || got != want {
			t.Errorf("token %s: role %v %v, want %v", secret, got, ok, want)
		}
	}
	for _, wrong := range []string{"", "read", readToken + "x", readToken[:len(readToken)-1], "Bearer " + readToken} {
		if got, ok := tok.role(wrong); ok {
			t.Errorf("token %q accepted as %v", wrong, got)
		}
	}
	if _, err := LoadTokens(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file loaded")
	}
}

func TestParseTokensErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"# nothing\n\n", "f: no tokens"},
		{"read short\n", "f:1: token of 5 bytes: use at least 16"},
		{"\n\nroot " + readToken + "\n", `f:3: unknown role "root"`},
		{"read\n", "f:1: 1 fields"},
		{"read " + readToken + " extra\n", "f:1: 3 fields"},
		{"read " + readToken + "\nadmin " + readToken + "\n", "f:2: the token of line 1 again"},
	} {
		_, err := ParseTokens(strings.NewReader(c.text), "f")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseTokens(%q): %v, want %q", c.text, err, c.want)
		}
	}
}

// TestAuth: each role reaches exactly its routes; missing and wrong
// tokens are 401 with WWW-Authenticate; public routes need no token.
func TestAuth(t *testing.T) {
	tok, err := ParseTokens(strings.NewReader(tokenFile), "tokens")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Options{Tokens: tok})
	e.token = adminToken
	e.store("s", nil)
	e.put("s", "k", `1`)

	type call struct {
		method, path, body string
		need               Role
	}
	calls := []call{
		{"GET", "/v1/status", "", RoleRead},
		{"GET", "/v1/domains", "", RoleRead},
		{"GET", "/v1/domains/default/stores", "", RoleRead},
		{"GET", "/v1/domains/default/hash", "", RoleRead},
		{"GET", itemPath("s", "k"), "", RoleRead},
		{"GET", "/v1/domains/default/stores/s/items", "", RoleRead},
		{"GET", "/v1/domains/default/snapshots", "", RoleRead},
		{"PUT", itemPath("s", "k"), "2", RoleWrite},
		{"DELETE", itemPath("s", "gone"), "", RoleWrite},
		{"POST", "/v1/domains/default/txn", `{}`, RoleWrite},
		{"POST", "/v1/domains/default/txns", `{"txns":[{}]}`, RoleWrite},
		{"POST", "/v1/domains/default/watch", `{"watches":[]}`, RoleRead},
		{"PUT", "/v1/domains/other", "", RoleAdmin},
		{"PUT", "/v1/domains/default/stores/t", "", RoleAdmin},
		{"DELETE", "/v1/domains/default/stores/t", "", RoleAdmin},
		{"POST", "/v1/domains/default/snapshots", "", RoleAdmin},
	}
	tokens := map[Role]string{RoleRead: readToken, RoleWrite: writeToken, RoleAdmin: adminToken}
	for _, c := range calls {
		for _, have := range []Role{RoleRead, RoleWrite, RoleAdmin} {
			r := e.do(c.method, c.path, c.body, "Authorization", "Bearer "+tokens[have])
			switch {
			case have < c.need && (r.status != http.StatusForbidden || r.code() != "forbidden"):
				t.Errorf("%s %s with %s: %d %s, want 403 forbidden", c.method, c.path, have, r.status, r.body)
			case have >= c.need && (r.status == http.StatusForbidden || r.status == http.StatusUnauthorized):
				t.Errorf("%s %s with %s: %d %s, want it allowed", c.method, c.path, have, r.status, r.body)
			}
		}
		anon := *e
		anon.token = ""
		for _, auth := range []string{"", "Bearer wrong-token-0123456789", "Basic " + adminToken, "Bearer", adminToken} {
			var r resp
			if auth == "" {
				r = anon.do(c.method, c.path, c.body)
			} else {
				r = anon.do(c.method, c.path, c.body, "Authorization", auth)
			}
			if r.status != http.StatusUnauthorized || r.code() != "unauthorized" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s with Authorization %q: %d %v %s, want 401 unauthorized with WWW-Authenticate", c.method, c.path, auth, r.status, r.header, r.body)
			}
		}
		// access_token works for the watch route only.
		r := anon.do(c.method, c.path+"?access_token="+adminToken, c.body)
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s %s?access_token=: %d, want 401", c.method, c.path, r.status)
		}
	}
	anon := *e
	anon.token = ""
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		anon.must(http.StatusOK, "GET", p, nil)
	}
	anon.fails(http.StatusUnauthorized, "unauthorized", "GET", "/v1/domains/default/watch", nil)
	anon.fails(http.StatusUnauthorized, "unauthorized", "GET", "/v1/domains/default/watch?access_token=wrong-token-0123456789", nil)
	// A valid access_token passes authentication: the bad parameter is
	// what the answer is about.
	anon.fails(http.StatusBadRequest, "bad_param", "GET", "/v1/domains/default/watch?from=x&access_token="+readToken, nil)
}
