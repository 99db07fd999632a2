// Package httpapi is sopd's HTTP/JSON API: domains, stores, items, scans,
// transactions, change streams over Server-Sent Events, the state hash,
// status, health and Prometheus metrics, served from one *sop.DB, and the
// Web UI (package ui) at /ui/.
//
// docs/API.md documents every route, its parameters, answers and error
// codes. New builds the handler; cmd/sopd serves it:
//
//	srv, err := httpapi.New(db, httpapi.Options{Tokens: tokens, Version: version})
//	http.ListenAndServe(addr, srv)
//
// Every error answer is JSON {"error":code,"message":text}; a mistake in a
// request is never a 500. Routing uses net/http's ServeMux only; keys in
// paths are percent-encoded and may contain "/" sent as %2F.
package httpapi

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sopd/sop"
	"github.com/sopd/sop/journal"
)

// Default limits (Options).
const (
	DefaultMaxKeySize   = 4 << 10
	DefaultMaxValueSize = 4 << 20
	DefaultMaxBodySize  = 16 << 20
)

// Options configure a Server. The zero value serves without
// authentication and with the default limits.
type Options struct {
	// Tokens are the accepted bearer tokens; nil: no authentication.
	Tokens *Tokens
	// MaxKeySize is the longest key, in bytes (default 4096, which is also
	// the most sop takes).
	MaxKeySize int
	// MaxValueSize is the largest value, in bytes (default 4 MiB, at most
	// 16 MiB). A transaction's whole journal entry must also fit the
	// journal's message limit (8 MiB on the embedded server).
	MaxValueSize int
	// MaxBodySize is the largest request body, in bytes (default 16 MiB).
	MaxBodySize int64
	// Logger receives request failures (errors) and refusals (debug);
	// nil discards them.
	Logger *slog.Logger
	// Registry receives the server's metrics and is what /metrics serves
	// (with Go and process collectors added); nil: a new one.
	Registry *prometheus.Registry
	// Version is shown in /v1/status.
	Version string
}

func (o *Options) setDefaults() error {
	if o.MaxKeySize < 0 || o.MaxValueSize < 0 || o.MaxBodySize < 0 {
		return errors.New("httpapi: negative limit in Options")
	}
	o.MaxKeySize = cmp.Or(o.MaxKeySize, DefaultMaxKeySize)
	o.MaxValueSize = cmp.Or(o.MaxValueSize, DefaultMaxValueSize)
	o.MaxBodySize = cmp.Or(o.MaxBodySize, DefaultMaxBodySize)
	if o.MaxKeySize > sop.MaxKeySize {
		return fmt.Errorf("httpapi: MaxKeySize %d is over sop's limit of %d bytes", o.MaxKeySize, sop.MaxKeySize)
	}
	if o.MaxValueSize > journal.MaxValueSize {
		return fmt.Errorf("httpapi: MaxValueSize %d is over sop's limit of %d bytes", o.MaxValueSize, journal.MaxValueSize)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	return nil
}

// Server is the HTTP API of one DB. It is an http.Handler, safe for
// concurrent use; it does not close the DB.
type Server struct {
	db      *sop.DB
	opts    Options
	tokens  *Tokens
	log     *slog.Logger
	mux     *http.ServeMux
	metrics *metrics

	// Stream timing; tests shorten them.
	keepAlive    time.Duration // idle time before an SSE keep-alive comment
	writeTimeout time.Duration // longest one SSE write may block
	flushDelay   time.Duration // how long a stream waits for more events before it flushes; 0: flush as soon as Next would block
}

var _ http.Handler = (*Server)(nil)

// New returns the API server of db.
func New(db *sop.DB, opts Options) (*Server, error) {
	if db == nil {
		return nil, errors.New("httpapi: nil DB")
	}
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	s := &Server{
		db: db, opts: opts, tokens: opts.Tokens, log: opts.Logger, mux: http.NewServeMux(),
		keepAlive: 15 * time.Second, writeTimeout: 30 * time.Second,
	}
	m, err := newMetrics(db, opts.Registry)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.routes()
	return s, nil
}

// handler is a route's code: an error it returns becomes the JSON error
// answer.
type handler func(w http.ResponseWriter, r *http.Request) error

// routes registers every route with the role it needs.
func (s *Server) routes() {
	const (
		domain = "/v1/domains/{d}"
		store  = domain + "/stores/{s}"
	)
	s.handle("GET /healthz", rolePublic, s.healthz)
	s.handle("GET /readyz", rolePublic, s.readyz)
	s.handle("GET /metrics", rolePublic, s.serveMetrics)
	s.handle("GET /v1/status", RoleRead, s.status)
	s.handle("GET /v1/whoami", RoleRead, s.whoami)
	s.uiRoutes()

	s.handle("GET /v1/domains", RoleRead, s.listDomains)
	s.handle("PUT "+domain, RoleAdmin, s.createDomain)
	s.handle("GET "+domain+"/hash", RoleRead, s.hash)
	s.handle("POST "+domain+"/txn", RoleWrite, s.txn)
	s.handle("POST "+domain+"/txns", RoleWrite, s.txns)
	s.handle("GET "+domain+"/watch", RoleRead, s.watch)
	s.handle("POST "+domain+"/watch", RoleRead, s.watchMany)
	s.handle("POST "+domain+"/snapshots", RoleAdmin, s.takeSnapshot)
	s.handle("GET "+domain+"/snapshots", RoleRead, s.listSnapshots)
	s.handle("POST "+domain+"/rebuild", RoleAdmin, s.rebuild)

	s.handle("GET "+domain+"/stores", RoleRead, s.listStores)
	s.handle("PUT "+store, RoleAdmin, s.createStore)
	s.handle("DELETE "+store, RoleAdmin, s.dropStore)

	s.handle("GET "+store+"/items", RoleRead, s.scan)
	s.handle("POST "+store+"/items", RoleWrite, s.postItem)
	s.handle("GET "+store+"/items/{key}", RoleRead, s.getItem)
	s.handle("PUT "+store+"/items/{key}", RoleWrite, s.putItem)
	s.handle("DELETE "+store+"/items/{key}", RoleWrite, s.deleteItem)
	// "items/" with nothing after it is an item route with an empty key.
	s.handle("GET "+store+"/items/{$}", RoleRead, slashKey(s.getItem))
	s.handle("PUT "+store+"/items/{$}", RoleWrite, slashKey(s.putItem))
	s.handle("DELETE "+store+"/items/{$}", RoleWrite, slashKey(s.deleteItem))
}

// handle registers h at pattern behind authentication, metrics and the
// error answer.
func (s *Server) handle(pattern string, need Role, h handler) {
	query := strings.HasPrefix(pattern, "GET ") && strings.HasSuffix(pattern, "/watch") // EventSource cannot send headers
	s.mux.Handle(pattern, route(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		defer s.metrics.countRequest(pattern, rec)
		defer s.recoverPanic(rec, r)
		if err := s.authorize(r, need, query); err != nil {
			s.writeError(rec, r, err)
			return
		}
		if err := h(rec, r); err != nil {
			s.writeError(rec, r, err)
		}
	}))
}

// route is the handler of a registered route. The mux also makes up
// handlers of its own (redirects, 404, 405): routed tells them apart by
// this type.
type route func(w http.ResponseWriter, r *http.Request)

func (h route) ServeHTTP(w http.ResponseWriter, r *http.Request) { h(w, r) }

// recoverPanic turns a panic of a handler into a 500 (and a log line), so
// one bad request does not take the connection down without an answer.
func (s *Server) recoverPanic(w *recorder, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	s.writeError(w, r, fmt.Errorf("panic: %v", v))
}

// ServeHTTP serves the API. Unknown paths get a JSON 404 and known paths
// with another method a JSON 405 (with Allow).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !canonical(r.URL.EscapedPath()) {
		// The mux would redirect to the cleaned path; a client following
		// that would act on another resource (DELETE items/.. would drop
		// the store), so the request is refused instead.
		rec := &recorder{ResponseWriter: w}
		defer s.metrics.countRequest("unmatched", rec)
		s.writeError(rec, r, reject(errBadParam, "the path %s has empty, '.' or '..' segments: send a key '.' or '..' as %%2E or %%2E%%2E, and no empty segments", r.URL.EscapedPath()))
		return
	}
	if s.routed(r) {
		s.mux.ServeHTTP(w, r) // matches again, setting the path values
		return
	}
	s.unrouted(w, r)
}

// routed reports whether a route takes r. The mux would also answer a
// method that only the path with a "/" added has with a redirect there
// (PUT .../items to .../items/, an item with an empty key): that is no
// route, but a 405.
func (s *Server) routed(r *http.Request) bool {
	h, pattern := s.mux.Handler(r)
	_, ok := h.(route)
	return ok && pattern != ""
}

// unrouted answers a request no route takes, in JSON: 405 with Allow when
// routes take the path with other methods, else 404.
func (s *Server) unrouted(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w}
	defer s.metrics.countRequest("unmatched", rec)
	allow := strings.Join(s.allowed(r), ", ")
	if allow == "" {
		s.writeError(rec, r, reject(errNotFound, "no route %s %s: see docs/API.md for the routes", r.Method, r.URL.EscapedPath()))
		return
	}
	w.Header().Set("Allow", allow)
	s.writeError(rec, r, reject(errMethodNotAllowed, "%s is not allowed on %s: use %s", r.Method, r.URL.EscapedPath(), allow))
}

// allowed lists the methods routes take at r's path. The mux's 405 to a
// method no route has names the candidates; those it would only redirect
// are left out.
func (s *Server) allowed(r *http.Request) []string {
	probe := r.WithContext(r.Context())
	probe.Method = "SOP-NO-METHOD"
	h, _ := s.mux.Handler(probe)
	c := &capture{header: http.Header{}}
	h.ServeHTTP(c, probe)
	var out []string
	for m := range strings.SplitSeq(c.header.Get("Allow"), ", ") {
		probe.Method = m
		if m != "" && s.routed(probe) {
			out = append(out, m)
		}
	}
	return out
}

// canonical reports whether an escaped path is what path.Clean makes of it
// (keeping a trailing slash).
func canonical(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// capture records the header and status of the mux's built-in answers.
type capture struct {
	header http.Header
	status int
}

func (c *capture) Header() http.Header         { return c.header }
func (c *capture) Write(b []byte) (int, error) { return len(b), nil }
func (c *capture) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

// recorder remembers the status of an answer for metrics and for
// writeError, which must not answer twice. Unwrap lets
// http.ResponseController reach the connection (flush, write deadline).
type recorder struct {
	http.ResponseWriter
	status int
}

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writeJSON sends v as the answer's JSON body, without HTML escaping so
// values come back byte for byte where JSON allows.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v) // a failed write means the client went away
}

// healthz answers 200 while the process serves.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz answers 200 when every domain is open and not failed, else 503.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if err := s.db.Ready(); err != nil {
		return err
	}
	for _, name := range s.db.Domains() {
		err := s.db.View(r.Context(), name, func(*sop.Tx) error { return nil })
		if err != nil {
			return fmt.Errorf("%w: domain %s is not ready: %w", sop.ErrUnavailable, name, err)
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

// slashKey serves the items/{$} patterns. They match "items/", a route
// with an empty key (400 bad_key), but also "items/%2F": ServeMux
// unescapes a segment before it compares it with the trailing slash of
// {$}. That is the key "/", served by h.
func slashKey(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if strings.HasSuffix(r.URL.EscapedPath(), "/items/") {
			return reject(sop.ErrBadKey, "the key is empty: put the percent-encoded key after items/")
		}
		r.SetPathValue("key", "/")
		return h(w, r)
	}
}
