package journal

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// SyncMode says when an embedded server fsyncs its JetStream store, and so
// which failures an acknowledged append survives.
type SyncMode int

const (
	// SyncAlways fsyncs every write before the server acknowledges it (one
	// fsync per atomic batch since nats-server 2.14): an acknowledged
	// append survives a process kill and a power loss or OS crash.
	SyncAlways SyncMode = iota
	// SyncInterval writes to the OS at once but fsyncs only every
	// SyncInterval (nats-server's default, 2 minutes): an acknowledged
	// append survives a process kill (kill -9), but an OS crash or power
	// loss may lose what was acknowledged in the last interval.
	SyncInterval
)

// ServerOptions configure an embedded NATS server with JetStream.
type ServerOptions struct {
	// Dir is the JetStream store directory. Required.
	Dir string
	// Listen is the client address ("127.0.0.1:4222"). Empty: no network
	// listener; connect in process with Server.Connect.
	Listen string
	// Sync is the durability of acknowledged writes; default SyncAlways.
	Sync SyncMode
	// SyncInterval is the fsync interval under SyncInterval; default 2 minutes.
	SyncInterval time.Duration
	// Name is the server name; default "sop".
	Name string
	// MaxPayload is the largest message (headers and data) the server
	// accepts, and so bounds one transaction's entry; default
	// DefaultMaxPayload.
	MaxPayload int32
}

// DefaultMaxPayload is the embedded server's message size limit: 8 MiB,
// the largest nats-server takes without warning that big payloads are
// discouraged (its own default is 1 MiB).
const DefaultMaxPayload = 8 << 20

// readyTimeout bounds how long StartServer waits for the server.
const readyTimeout = 10 * time.Second

// Server is an embedded nats-server with JetStream, for a single-node sop
// or tests.
type Server struct {
	s      *server.Server
	listen bool
}

// StartServer starts an embedded server and waits until it accepts
// connections.
func StartServer(opts ServerOptions) (*Server, error) {
	sopts, err := serverOptions(opts)
	if err != nil {
		return nil, err
	}
	s, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("start nats server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(readyTimeout) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("start nats server: not ready for connections within %v (store %s, listen %q)", readyTimeout, opts.Dir, opts.Listen)
	}
	return &Server{s: s, listen: opts.Listen != ""}, nil
}

func serverOptions(opts ServerOptions) (*server.Options, error) {
	if opts.Dir == "" {
		return nil, errors.New("start nats server: no store directory")
	}
	if opts.Name == "" {
		opts.Name = "sop"
	}
	if opts.MaxPayload == 0 {
		opts.MaxPayload = DefaultMaxPayload
	}
	o := &server.Options{
		ServerName: opts.Name,
		JetStream:  true,
		StoreDir:   opts.Dir,
		MaxPayload: opts.MaxPayload,
		NoSigs:     true,
		NoLog:      true,
	}
	switch opts.Sync {
	case SyncAlways:
		o.SyncAlways = true
	case SyncInterval:
		o.SyncInterval = opts.SyncInterval
	default:
		return nil, fmt.Errorf("start nats server: unknown sync mode %d", opts.Sync)
	}
	if opts.Listen == "" {
		o.DontListen = true
		return o, nil
	}
	host, port, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("start nats server: listen address: %w", err)
	}
	o.Host = host
	if o.Port, err = strconv.Atoi(port); err != nil {
		return nil, fmt.Errorf("start nats server: listen port %q: %w", port, err)
	}
	return o, nil
}

// Connect returns a client connection: over TCP when the server listens,
// else in process.
func (s *Server) Connect(opts ...nats.Option) (*nats.Conn, error) {
	if s.listen {
		return nats.Connect(s.s.ClientURL(), opts...)
	}
	return nats.Connect("", append([]nats.Option{nats.InProcessServer(s.s)}, opts...)...)
}

// ClientURL returns the server's client URL ("nats://127.0.0.1:4222"); it
// is not reachable when the server does not listen.
func (s *Server) ClientURL() string { return s.s.ClientURL() }

// Shutdown stops the server and waits until it has stopped. Close client
// connections first: a connection left open keeps trying to reconnect.
func (s *Server) Shutdown() {
	s.s.Shutdown()
	s.s.WaitForShutdown()
}
