package httpapi

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// Role is what a token may do. Each role may do everything the roles
// below it may.
type Role int

// Roles, lowest first.
const (
	// rolePublic marks routes that need no token (/healthz, /readyz,
	// /metrics); no token has it.
	rolePublic Role = iota
	// RoleRead may GET everything under /v1 (and watch).
	RoleRead
	// RoleWrite may also write items (PUT, DELETE, POST) and run txn.
	RoleWrite
	// RoleAdmin may also create and drop domains and stores and take
	// snapshots.
	RoleAdmin
)

// String is the role's name in the token file.
func (r Role) String() string {
	switch r {
	case RoleRead:
		return "read"
	case RoleWrite:
		return "write"
	case RoleAdmin:
		return "admin"
	}
	return "public"
}

// ParseRole parses "read", "write" or "admin".
func ParseRole(s string) (Role, error) {
	for _, r := range []Role{RoleRead, RoleWrite, RoleAdmin} {
		if s == r.String() {
			return r, nil
		}
	}
	return 0, fmt.Errorf("unknown role %q: use read, write or admin", s)
}

// MinTokenSize is the shortest token LoadTokens accepts, in bytes.
const MinTokenSize = 16

// Tokens are the bearer tokens a server accepts and their roles. Lookups
// compare every token in constant time. Safe for concurrent use.
type Tokens struct {
	tokens []token
}

// token is one accepted token: its SHA-256, so comparisons take the same
// time whatever the length of the guess.
type token struct {
	sum  [sha256.Size]byte
	role Role
}

// LoadTokens reads the token file at path: one token per line as
// "<role> <token>" (role read, write or admin; tokens at least
// MinTokenSize bytes without white space), '#' comment lines and blank
// lines allowed. The error names the file and line and what is wrong.
func LoadTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load tokens: %w", err)
	}
	defer f.Close()
	return ParseTokens(f, path)
}

// ParseTokens reads a token file's text from r (see LoadTokens); name
// labels its errors.
func ParseTokens(r io.Reader, name string) (*Tokens, error) {
	t := &Tokens{}
	seen := map[[sha256.Size]byte]int{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		tok, ok, err := parseTokenLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if !ok {
			continue
		}
		if first, dup := seen[tok.sum]; dup {
			return nil, fmt.Errorf("%s:%d: the token of line %d again: give each token one role", name, line, first)
		}
		seen[tok.sum] = line
		t.tokens = append(t.tokens, tok)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(t.tokens) == 0 {
		return nil, fmt.Errorf("%s: no tokens: add lines of the form \"<read|write|admin> <token>\"", name)
	}
	return t, nil
}

// parseTokenLine parses one line; ok is false for a comment or a blank
// line.
func parseTokenLine(line string) (token, bool, error) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return token{}, false, nil
	}
	fields := strings.Fields(line)
	if len(fields) != 2 {
		return token{}, false, fmt.Errorf("%d fields: want \"<read|write|admin> <token>\"", len(fields))
	}
	role, err := ParseRole(fields[0])
	if err != nil {
		return token{}, false, err
	}
	if len(fields[1]) < MinTokenSize {
		return token{}, false, fmt.Errorf("token of %d bytes: use at least %d (for example: openssl rand -hex 32)", len(fields[1]), MinTokenSize)
	}
	return token{sum: sha256.Sum256([]byte(fields[1])), role: role}, true, nil
}

// role returns the role of secret, or false when it is no token. It
// compares against every token, so the time taken does not tell which
// one matched or how much of a guess was right.
func (t *Tokens) role(secret string) (Role, bool) {
	sum := sha256.Sum256([]byte(secret))
	var found Role
	for _, tok := range t.tokens {
		if subtle.ConstantTimeCompare(sum[:], tok.sum[:]) == 1 {
			found = tok.role
		}
	}
	return found, found != rolePublic
}

// errNoToken: the request carries no token at all.
var errNoToken = errors.New("no token")

// bearer returns the request's token: from "Authorization: Bearer", or
// from ?access_token= where query is true (browsers' EventSource cannot
// set headers).
func bearer(r *http.Request, query bool) (string, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
			return "", reject(errUnauthorized, "the Authorization header is not \"Bearer <token>\"")
		}
		return strings.TrimSpace(secret), nil
	}
	if query {
		if secret := r.URL.Query().Get("access_token"); secret != "" {
			return secret, nil
		}
	}
	return "", errNoToken
}

// authorize checks that the request may use a route that needs role.
func (s *Server) authorize(r *http.Request, need Role, query bool) error {
	if s.tokens == nil || need == rolePublic {
		return nil
	}
	secret, err := bearer(r, query)
	if errors.Is(err, errNoToken) {
		return reject(errUnauthorized, "this node requires a token: send \"Authorization: Bearer <token>\"")
	}
	if err != nil {
		return err
	}
	have, ok := s.tokens.role(secret)
	if !ok {
		return reject(errUnauthorized, "the token is not valid on this node: check it against the node's token file")
	}
	if have < need {
		return reject(errForbidden, "this call needs a token with the %s role; yours has %s", need, have)
	}
	return nil
}
