package journal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Conn is a client connection to NATS from which domain journals are
// opened. It keeps nats.go inside this package: the engine sees only Conn
// and Stream.
type Conn struct {
	nc *nats.Conn
}

// DialOptions configure Dial.
type DialOptions struct {
	Name    string        // client name shown by the server; default "sop"
	Timeout time.Duration // connect timeout; default 5 seconds
}

// Dial connects to the NATS servers at url (comma-separated URLs allowed).
// The connection reconnects forever; appends made while it is down fail
// with ErrUnavailable.
func Dial(url string, opts DialOptions) (*Conn, error) {
	if opts.Name == "" {
		opts.Name = "sop"
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	nc, err := nats.Connect(url, nats.Name(opts.Name), nats.Timeout(opts.Timeout), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connect to nats at %s: %w", url, err)
	}
	return &Conn{nc: nc}, nil
}

// Dial connects to the embedded server in process (no TCP, even when the
// server also listens).
func (s *Server) Dial() (*Conn, error) {
	nc, err := nats.Connect("", nats.InProcessServer(s.s), nats.Name("sop"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connect to embedded nats: %w", err)
	}
	return &Conn{nc: nc}, nil
}

// Open opens (creating it when missing) the journal of domain.
func (c *Conn) Open(ctx context.Context, domain string, opts StreamOptions) (*Stream, error) {
	return OpenStream(ctx, c.nc, domain, opts)
}

// Delete removes the journal of domain and everything in it. Deleting a
// journal that does not exist is not an error.
func (c *Conn) Delete(ctx context.Context, domain string) error {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return fmt.Errorf("delete journal of %s: %w", domain, err)
	}
	err = js.DeleteStream(ctx, StreamName(domain))
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("delete journal of %s: %w", domain, classify(err))
	}
	return nil
}

// MaxPayload is the largest message the server accepts, headers included.
func (c *Conn) MaxPayload() int64 { return c.nc.MaxPayload() }

// Close closes the connection.
func (c *Conn) Close() { c.nc.Close() }

// JetStream returns the connection's JetStream context, for the parts of
// sop that keep other things in JetStream (the snapshot object store).
func (c *Conn) JetStream() (jetstream.JetStream, error) {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return js, nil
}

// ErrNoResponder: a Request found nobody serving its subject.
var ErrNoResponder = errors.New("journal: no responder")

// Serve answers requests on subject with h until the returned stop is
// called. h runs on its own goroutine per request.
func (c *Conn) Serve(subject string, h func(req []byte) []byte) (stop func(), err error) {
	sub, err := c.nc.Subscribe(subject, func(m *nats.Msg) {
		// A lost answer is the requester's to handle: it times out and
		// learns the outcome otherwise.
		go func() { _ = m.Respond(h(m.Data)) }()
	})
	if err != nil {
		return nil, fmt.Errorf("serve %s: %w", subject, classify(err))
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// Request sends data to whoever serves subject and returns the answer.
// Nobody serving it is ErrNoResponder; a lost answer wraps ErrUnavailable.
func (c *Conn) Request(ctx context.Context, subject string, data []byte) ([]byte, error) {
	m, err := c.nc.RequestWithContext(ctx, subject, data)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("%w on %s", ErrNoResponder, subject)
	}
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", subject, classify(err))
	}
	return m.Data, nil
}

// Publish sends data on subject, fire and forget (core NATS).
func (c *Conn) Publish(subject string, data []byte) error {
	if err := c.nc.Publish(subject, data); err != nil {
		return fmt.Errorf("publish %s: %w", subject, classify(err))
	}
	return nil
}

// Subscribe calls fn with every message on subject until the returned stop
// is called. fn runs on one goroutine, in order.
func (c *Conn) Subscribe(subject string, fn func(data []byte)) (stop func(), err error) {
	sub, err := c.nc.Subscribe(subject, func(m *nats.Msg) { fn(m.Data) })
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", subject, classify(err))
	}
	return func() { _ = sub.Unsubscribe() }, nil
}
