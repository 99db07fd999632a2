// Package ui is sop's Web UI: a data manager for a node, written as plain
// HTML, CSS and JavaScript modules (no build step) and embedded in the
// binary. It is only a client of the node's HTTP API (/v1/..., same
// origin): every sopd node serves it at /ui/ (package httpapi mounts
// Handler), and `sopd ui` serves it on a user's machine in front of a
// remote node.
//
// Screens: domains and stores (create with an index specification,
// drop), browsing a store page by page with key range, prefix and
// compound-key search, viewing, editing (compare-and-set on the item's
// version), adding and deleting items, a live change stream, the journal,
// snapshots, and node and cluster status. When the API answers 401 the UI
// asks for a token and keeps it in the tab's sessionStorage; it asks
// GET /v1/whoami for the token's role and shows read-only users no edit
// controls.
//
// The assets need no authentication: they hold no data.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// Prefix is the path the UI is served under.
const Prefix = "/ui/"

//go:embed assets
var assets embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

// Handler returns the handler of the UI's assets. It serves GET and HEAD
// of paths under Prefix ("/ui/" is index.html); anything else is a 404 or
// a 405 in plain text. Safe for concurrent use.
func Handler() http.Handler {
	return &handler{files: files()}
}

// files are the assets, read once.
var files = sync.OnceValue(load)

// handler serves the embedded assets by path relative to Prefix.
type handler struct {
	files map[string]asset
}

// load reads every embedded asset into memory (they are small) with its
// content type and a strong ETag.
func load() map[string]asset {
	files := map[string]asset{}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		files[strings.TrimPrefix(p, "assets/")] = asset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("ui: read the embedded assets: " + err.Error()) // a broken build, not input
	}
	return files
}

// contentSecurity keeps the pages to their own scripts, styles and API:
// item values are user data, and the UI renders them as text only.
const contentSecurity = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: the UI's assets are read with GET", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if name == "" {
		name = "index.html"
	}
	a, ok := h.files[name]
	if !ok {
		http.Error(w, "no such file in the Web UI: open "+Prefix, http.StatusNotFound)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("ETag", a.etag)
	hd.Set("Cache-Control", "no-cache") // revalidate: a new binary may bring new assets
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", contentSecurity)
	hd.Set("Referrer-Policy", "no-referrer")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}
