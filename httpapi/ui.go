package httpapi

import (
	"net/http"

	"github.com/sopd/sop/ui"
)

// uiRoutes mounts the Web UI (package ui) at /ui/, with /ui and / sent
// there. Its assets need no token: they hold no data, and the UI asks the
// user for a token when the API answers 401.
func (s *Server) uiRoutes() {
	assets := ui.Handler()
	s.handle("GET "+ui.Prefix, rolePublic, func(w http.ResponseWriter, r *http.Request) error {
		assets.ServeHTTP(w, r)
		return nil
	})
	toUI := func(w http.ResponseWriter, r *http.Request) error {
		http.Redirect(w, r, ui.Prefix, http.StatusMovedPermanently)
		return nil
	}
	s.handle("GET /ui", rolePublic, toUI)
	s.handle("GET /{$}", rolePublic, toUI)
}

// whoamiJSON is the answer of GET /v1/whoami.
type whoamiJSON struct {
	Role string `json:"role"` // read, write or admin
	Auth bool   `json:"auth"` // whether the node checks tokens
}

// whoami answers GET /v1/whoami: the role of the caller's token, so that a
// client (the Web UI) offers only what the token may do. A node without
// authentication lets everyone do everything: admin.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	out := whoamiJSON{Role: RoleAdmin.String(), Auth: s.tokens != nil}
	if s.tokens != nil {
		// authorize has accepted the token already.
		secret, err := bearer(r, false)
		if err != nil {
			return err
		}
		role, _ := s.tokens.role(secret)
		out.Role = role.String()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
