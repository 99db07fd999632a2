package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Client. All are optional.
type Options struct {
	// Token is sent as "Authorization: Bearer <Token>".
	Token string
	// HTTPClient makes the requests; nil: a client of its own, with no
	// overall timeout (each call is bounded by its ctx), that does not
	// follow redirects. Set TLSConfig on its transport yourself when you
	// pass one, and consider the same CheckRedirect.
	HTTPClient *http.Client
	// TLSConfig is the TLS configuration of the client's own transport
	// (for example a private CA's RootCAs). It cannot be combined with
	// HTTPClient.
	TLSConfig *tls.Config
	// WriteToLeader sends each write (Put, Delete, PutDoc, Txn) straight
	// to its domain's leader, found through the endpoint's GET /v1/status
	// (the nodes' --advertise URLs), instead of through the endpoint, which
	// would forward it: one hop less. Reads still go to the endpoint and,
	// unless given MinSeq or Linearizable, wait there for the client's last
	// write of the domain, so the client reads its own writes. The Token
	// and TLS settings are used for every node. See leader.go for the
	// details.
	WriteToLeader bool
	// BatchWrites sends concurrent writes of one domain (Put, Delete, and
	// Txn without an IdempotencyKey) together, up to 1000 per request, in
	// POST /v1/domains/{d}/txns: each still commits or fails on its own and
	// each call returns its own answer when its transaction has committed.
	// It pays off with many goroutines writing through one Client; a lone
	// writer's requests go out at once. See batch.go for the details.
	BatchWrites bool
}

// Client is a connection to one sopd node. It is safe for concurrent use.
type Client struct {
	base    string // scheme://host[:port][/prefix], no trailing slash
	token   string
	hc      *http.Client
	leaders *leaders // with Options.WriteToLeader
	batch   bool     // Options.BatchWrites

	batchMu  sync.Mutex
	batchers map[string]*batcher // domain -> its queue of writes, with batch
}

// New returns a client of the node at endpoint, for example
// "http://127.0.0.1:7070" or "https://sop.example.com". An endpoint without
// a scheme is taken as http://.
func New(endpoint string, opts Options) (*Client, error) {
	if !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("client: endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: endpoint %q: use http://host:port or https://host:port", endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: endpoint %q: a query or fragment has no place in it", endpoint)
	}
	hc := opts.HTTPClient
	switch {
	case hc != nil && opts.TLSConfig != nil:
		return nil, errors.New("client: set either HTTPClient or TLSConfig, not both: put the TLS config on your client's transport")
	case hc == nil:
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = opts.TLSConfig
		hc = &http.Client{Transport: t, CheckRedirect: noRedirects}
	}
	c := &Client{base: strings.TrimSuffix(u.String(), "/"), token: opts.Token, hc: hc, batch: opts.BatchWrites}
	if opts.WriteToLeader {
		c.leaders = &leaders{self: c}
	}
	return c, nil
}

// noRedirects makes a redirect an error answer: the API never redirects
// on purpose, and following one (a path cleaned by a proxy or the server,
// a 307 that keeps the method) could send a write to another resource.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Endpoint is the base URL the client sends to.
func (c *Client) Endpoint() string { return c.base }

// request is one API call.
type request struct {
	method string
	path   string // escaped, from the root: /v1/...
	query  url.Values
	header http.Header
	body   []byte // JSON, or nil
}

// path joins escaped segments under /v1.
func path(segments ...string) string {
	var b strings.Builder
	b.WriteString("/v1")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// send makes the request and returns the response of a 2xx answer; any
// other answer becomes a *Error. The caller closes the body.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return resp, nil
}

// call makes the request and decodes a 2xx answer's JSON body into out
// (when out is not nil), returning the status.
func (c *Client) call(ctx context.Context, r request, out any) (int, error) {
	resp, err := c.send(ctx, r)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("client: %s %s: decode answer: %w", r.method, r.path, err)
	}
	return resp.StatusCode, nil
}

// errorBody is the API's error answer.
type errorBody struct {
	Error      string `json:"error"`
	Message    string `json:"message"`
	FirstSeq   uint64 `json:"first_seq"`
	ResumeFrom uint64 `json:"resume_from"`
}

func (b errorBody) toError(status int) *Error {
	return &Error{StatusCode: status, Code: b.Error, Message: b.Message, FirstSeq: b.FirstSeq, ResumeFrom: b.ResumeFrom}
}

// readError turns a non-2xx answer into a *Error. A body that is not the
// API's error JSON (a proxy's page) becomes the message.
func readError(resp *http.Response) *Error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var b errorBody
	if json.Unmarshal(raw, &b) != nil || b.Error == "" {
		b = errorBody{Message: strings.TrimSpace(string(raw))}
		if b.Message == "" {
			b.Message = http.StatusText(resp.StatusCode)
		}
	}
	e := b.toError(resp.StatusCode)
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		} else if t, err := http.ParseTime(s); err == nil {
			e.RetryAfter = max(0, time.Until(t))
		}
	}
	return e
}

// checkJSON rejects a value that is not one JSON value.
func checkJSON(what string, v json.RawMessage) error {
	if !json.Valid(v) {
		return fmt.Errorf("%w: %s is not valid JSON", ErrBadRequest, what)
	}
	return nil
}
