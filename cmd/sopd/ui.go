package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/sopd/sop/ui"
	"github.com/spf13/cobra"
)

// uiProxy serves the embedded Web UI on the user's machine and passes the
// API calls it makes (/v1/..., /healthz, /readyz) to a remote node.
type uiProxy struct {
	assets   http.Handler
	api      http.Handler
	loopback bool // the proxy listens on loopback: only loopback Host names are served
}

// newUIProxy returns the handler of `sopd ui` for the node at endpoint.
// token, when not empty, is sent as "Authorization: Bearer" on the calls
// that carry none (the browser's own sign-in wins). tc configures TLS to
// the node (nil: the defaults).
func newUIProxy(endpoint *url.URL, token string, tc *tls.Config, loopback bool, log *slog.Logger) *uiProxy {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if tc != nil {
		transport.TLSClientConfig = tc
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(endpoint)
			pr.Out.Header.Del("Cookie") // the node uses none; keep the browser's own to itself
			if token != "" && pr.Out.Header.Get("Authorization") == "" {
				pr.Out.Header.Set("Authorization", "Bearer "+token)
			}
		},
		Transport:     transport,
		FlushInterval: -1, // change streams must not wait in a buffer; -1 also sends their headers at once
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				return // the browser went away
			}
			log.Warn("the node did not answer", "endpoint", endpoint.Redacted(), "path", r.URL.Path, "err", err)
			proxyError(w, http.StatusBadGateway, "unavailable",
				fmt.Sprintf("sopd ui cannot reach the node at %s: %v (is it running? check --endpoint)", endpoint.Redacted(), err))
		},
	}
	// A page of another site must not write with the token this proxy adds.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxyError(w, http.StatusForbidden, "forbidden", "sopd ui takes writes only from its own pages, not from another site's")
	}))
	return &uiProxy{assets: ui.Handler(), api: cop.Handler(rp), loopback: loopback}
}

// ServeHTTP routes by path. API paths are matched by prefix and passed on
// unchanged, not cleaned (as http.ServeMux would, redirecting): a key
// ".." is sent as %2E%2E and must reach the node as such.
func (p *uiProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.loopback && !loopbackHost(r.Host) {
		// A DNS name rebound to 127.0.0.1 would let another site's page
		// talk to the node with this proxy's token.
		proxyError(w, http.StatusForbidden, "forbidden",
			fmt.Sprintf("sopd ui serves this machine only, and the Host %q is not a loopback name: open http://127.0.0.1:<port>/ui/", r.Host))
		return
	}
	switch path := r.URL.Path; {
	case strings.HasPrefix(path, "/v1/"), path == "/healthz", path == "/readyz":
		p.api.ServeHTTP(w, r)
	case path == "/", path == "/ui":
		http.Redirect(w, r, ui.Prefix, http.StatusMovedPermanently)
	default:
		p.assets.ServeHTTP(w, r)
	}
}

// loopbackHost reports whether a Host header names this machine.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// proxyError answers in the API's error shape, so the UI shows it in words.
func proxyError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "message": msg})
}

// uiConfig is what `sopd ui` is told.
type uiConfig struct {
	r      *remote // endpoint, token, TLS
	listen string
}

func newUICmd(st *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Serve the Web UI on this machine, in front of a remote node",
		Long: `Serve sop's Web UI (the same one every node serves at /ui/) on this machine,
and pass the API calls it makes to the node at --endpoint. A laptop can so
manage a remote node or cluster; the UI never needs to run inside it. Open
the printed address (http://127.0.0.1:7071/ui/ by default) in a browser.

With --token or --token-file the calls carry that token unless the browser
signed in with one of its own; without, the UI asks for a token when the node
wants one (and keeps it in the browser tab only). Whoever reaches --listen
acts with that token, so it is only taken with a loopback --listen. On a
loopback --listen, requests must name this machine (127.0.0.1, [::1] or
localhost); writes must come from the UI's own pages, never another site's.

Change streams pass through unbuffered. TLS to the node: --cacert, --insecure.`,
		Example: `  sopd ui --endpoint http://10.0.0.5:7070
  sopd ui --endpoint https://sop.example.com --token-file ~/.sop-admin-token
  SOP_ENDPOINT=https://sop.example.com SOP_TOKEN=... sopd ui --listen 127.0.0.1:8080`,
		Args: argsFor(),
	}
	c := &uiConfig{listen: "127.0.0.1:7071", r: &remote{endpoint: "http://127.0.0.1:7070"}}
	fs := cmd.Flags()
	fs.StringVar(&c.r.endpoint, "endpoint", c.r.endpoint, "the node's HTTP address (env SOP_ENDPOINT)")
	fs.StringVar(&c.r.token, "token", "", "bearer token the proxy adds to calls (env SOP_TOKEN)")
	fs.StringVar(&c.r.tokenFile, "token-file", "", "read the token from this file instead (env SOP_TOKEN_FILE)")
	fs.StringVar(&c.r.cacert, "cacert", "", "PEM file of the CA that signed the node's TLS certificate (env SOP_CACERT)")
	boolFlag(fs, &c.r.insecure, "insecure", "skip verifying the node's TLS certificate (testing only; env SOP_INSECURE)")
	fs.StringVar(&c.listen, "listen", c.listen, "address to serve the UI on (env SOP_UI_LISTEN)")
	c.r.s = newSettings(fs)
	for _, b := range [][2]string{
		{"endpoint", "SOP_ENDPOINT"}, {"token", "SOP_TOKEN"}, {"token-file", "SOP_TOKEN_FILE"},
		{"cacert", "SOP_CACERT"}, {"insecure", "SOP_INSECURE"}, {"listen", "SOP_UI_LISTEN"},
	} {
		c.r.s.bind(b[0], b[1])
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return serveUI(cmd.Context(), c, st)
	}
	return cmd
}

// endpointURL checks --endpoint: an http or https URL with a host.
func (c *uiConfig) endpointURL() (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(c.r.endpoint, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s: %q is not a node's address: give e.g. http://10.0.0.5:7070", c.r.s.source("endpoint"), c.r.endpoint)
	}
	return u, nil
}

// probe warns when the node does not answer /healthz: the UI would show
// the same in words, but the user looks at this terminal first.
func probe(ctx context.Context, endpoint *url.URL, tc *tls.Config, log *slog.Logger) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tc
	hc := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint.JoinPath("healthz").String(), nil)
	if err != nil {
		return
	}
	res, err := hc.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("the node does not answer (yet): the UI says so until it does", "endpoint", endpoint.Redacted(), "err", err)
		}
		return
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		log.Warn("the node's /healthz is not OK: is --endpoint a sopd node?", "endpoint", endpoint.Redacted(), "status", res.Status)
	}
}

// serveUI runs `sopd ui` until ctx ends.
func serveUI(ctx context.Context, c *uiConfig, st *streams) error {
	opts, err := c.r.options()
	if err != nil {
		return err
	}
	endpoint, err := c.endpointURL()
	if err != nil {
		return err
	}
	if err := checkAddr(c.listen, false); err != nil {
		return fmt.Errorf("%s: %w", c.r.s.source("listen"), err)
	}
	loopback := isLoopback(c.listen)
	if opts.Token != "" && !loopback {
		return fmt.Errorf("%s is reachable from other machines, and everyone reaching it would use the token of --token/--token-file: listen on 127.0.0.1, or give no token (the browser then asks for one)", c.r.s.source("listen"))
	}
	log := slog.New(slog.NewTextHandler(st.err, nil))
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose another --listen)", c.listen, err)
	}
	defer ln.Close()
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv := &http.Server{
		Handler:           newUIProxy(endpoint, opts.Token, opts.TLSConfig, loopback, log),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("sopd ui serving", "ui", "http://"+ln.Addr().String()+ui.Prefix, "endpoint", endpoint.Redacted(), "token", opts.Token != "")
	go probe(base, endpoint, opts.TLSConfig, log)
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	if st.stopSignals != nil {
		st.stopSignals()
	}
	shutdown(srv, cancelBase, log)
	return serveErr
}
