package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sopd/sop"
	"github.com/sopd/sop/httpapi"
	"github.com/sopd/sop/journal"
	"github.com/sopd/sop/lock/redislock"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// serveConfig is everything `sopd serve` is told, after flags, the
// environment and the config file are merged and checked.
type serveConfig struct {
	config              string
	data                string
	passiveData         string
	injectIOFaults      string
	http                string
	advertise           string
	natsURL             string
	natsListen          string
	journalReplicas     int
	redisURL            string
	redis               redislock.Options // parsed from redisURL
	clusterName         string
	leaseTTL            time.Duration
	nodeID              string
	journalRetain       int
	journalSync         string
	journalSyncInterval time.Duration
	cacheSize           int64
	pageSize            int64
	checkpointEntries   int
	checkpointInterval  time.Duration
	snapshotKeep        int
	snapshotEntries     int
	snapshotInterval    time.Duration
	snap                snapStoreConfig
	authTokens          string
	tlsCert             string
	tlsKey              string
	maxKeySize          int64
	maxValueSize        int64
	maxBodySize         int64
	logLevel            string
	logFormat           string
	pprof               string

	s *settings

	// Set by load.
	tokens *httpapi.Tokens
	cert   *tls.Certificate
	level  slog.Level
}

// serveFlag is one serve flag: its environment variable, and the help
// text (the default is shown by the flag itself).
type serveFlag struct {
	name, env, usage string
	value            pflag.Value
}

// flags lists serve's flags in the order --help and docs/OPERATIONS.md
// show them.
func (c *serveConfig) flags() []serveFlag {
	str := func(p *string) pflag.Value { return (*stringValue)(p) }
	list := []serveFlag{
		{"data", "SOP_DATA", "data directory: page files, checkpoints, the embedded journal, local snapshots", str(&c.data)},
		{"passive-data", "SOP_PASSIVE_DATA", "passive data directory, on another volume: on a permanent I/O error (EIO, ENOSPC, ...) in --data the node gives up its leases and rebuilds its state here by snapshot and journal replay, then serves again ([Failover] in the log); empty: such a node stops serving and reports not ready", str(&c.passiveData)},
		{"http", "SOP_HTTP", "HTTP API address; a non-loopback address needs --auth-tokens", str(&c.http)},
		{"advertise", "SOP_ADVERTISE", "URL at which other nodes and clients reach this node's HTTP API, announced to the cluster (GET /v1/status members; clients that send writes to a domain's leader use it), e.g. https://node1.example.com:7070; empty: http(s):// and the address --http listens on, with this machine's hostname when that is every interface", str(&c.advertise)},
		{"nats-url", "SOP_NATS_URL", "an existing NATS JetStream cluster (comma-separated URLs); empty: the embedded server", str(&c.natsURL)},
		{"nats-listen", "SOP_NATS_LISTEN", "client address of the embedded NATS server, for standard NATS tools; empty: in-process only", str(&c.natsListen)},
		{"journal-replicas", "SOP_JOURNAL_REPLICAS", "replicas of each domain's journal stream (and of the snapshot bucket) created on --nats-url: 3 in a production cluster of three or more NATS servers", &intValue{p: &c.journalReplicas, min: 1, max: 5}},
		{"redis-url", "SOP_REDIS_URL", "Redis for the domains' leader leases (cluster mode: the lease holder leads a domain, the other nodes follow it); empty: this node leads every domain", str(&c.redisURL)},
		{"cluster-name", "SOP_CLUSTER_NAME", "name of the cluster, in the names of its leases (cluster mode)", str(&c.clusterName)},
		{"lease-ttl", "SOP_LEASE_TTL", "time to live of a domain's leader lease, renewed every third of it (cluster mode)", &durationValue{p: &c.leaseTTL}},
		{"node-id", "SOP_NODE_ID", "this node's name; empty: generated once and kept in the data directory", str(&c.nodeID)},
		{"journal-retain", "SOP_JOURNAL_RETAIN", "journal entries kept behind the newest snapshot when a snapshot truncates the journal", &intValue{p: &c.journalRetain, min: 1, max: 1 << 40}},
		{"journal-sync", "SOP_JOURNAL_SYNC", "embedded journal durability: always (fsync before acknowledging) or interval", &choiceValue{p: &c.journalSync, choices: []string{"always", "interval"}}},
		{"journal-sync-interval", "SOP_JOURNAL_SYNC_INTERVAL", "fsync period under --journal-sync interval", &durationValue{p: &c.journalSyncInterval}},
		{"cache-size", "SOP_CACHE_SIZE", "page cache of each domain (bytes, or with KiB/MiB/GiB)", &sizeValue{p: &c.cacheSize, min: 1 << 20, max: 1 << 50}},
		{"page-size", "SOP_PAGE_SIZE", "B-tree page size of new domains: a power of two from 4KiB to 64KiB; 0: 8KiB, or an existing domain's own", &sizeValue{p: &c.pageSize, min: 4 << 10, max: 64 << 10, zero: true}},
		{"checkpoint-entries", "SOP_CHECKPOINT_ENTRIES", "checkpoint a domain after this many applied entries", &intValue{p: &c.checkpointEntries, min: 1, max: 1 << 30}},
		{"checkpoint-interval", "SOP_CHECKPOINT_INTERVAL", "checkpoint a domain at least this often", &durationValue{p: &c.checkpointInterval}},
		{"snapshot-keep", "SOP_SNAPSHOT_KEEP", "snapshots kept per domain: older ones are deleted after each new one", &intValue{p: &c.snapshotKeep, min: 1, max: 1 << 20}},
		{"snapshot-entries", "SOP_SNAPSHOT_ENTRIES", "snapshot a domain after this many entries applied since its last snapshot; off (or negative): only by time or on request", &triggerCount{p: &c.snapshotEntries}},
		{"snapshot-interval", "SOP_SNAPSHOT_INTERVAL", "snapshot a domain this long after its last snapshot if anything was applied since; off (or negative): only by count or on request", &triggerDuration{p: &c.snapshotInterval}},
	}
	list = append(list, c.snap.flags()...)
	return append(list, []serveFlag{
		{"auth-tokens", "SOP_AUTH_TOKENS", "token file (lines \"<read|write|admin> <token>\"); empty: no authentication", str(&c.authTokens)},
		{"tls-cert", "SOP_TLS_CERT", "TLS certificate (PEM) for HTTPS; with --tls-key", str(&c.tlsCert)},
		{"tls-key", "SOP_TLS_KEY", "TLS private key (PEM); with --tls-cert", str(&c.tlsKey)},
		{"max-key-size", "SOP_MAX_KEY_SIZE", "longest key the HTTP API accepts", &sizeValue{p: &c.maxKeySize, min: 1, max: sop.MaxKeySize}},
		{"max-value-size", "SOP_MAX_VALUE_SIZE", "largest value the HTTP API accepts", &sizeValue{p: &c.maxValueSize, min: 1, max: journal.MaxValueSize}},
		{"max-body-size", "SOP_MAX_BODY_SIZE", "largest HTTP request body", &sizeValue{p: &c.maxBodySize, min: 1 << 10, max: 1 << 40}},
		{"log-level", "SOP_LOG_LEVEL", "least level logged: debug, info, warn or error", &choiceValue{p: &c.logLevel, choices: []string{"debug", "info", "warn", "error"}}},
		{"log-format", "SOP_LOG_FORMAT", "log format: text or json", &choiceValue{p: &c.logFormat, choices: []string{"text", "json"}}},
		{"pprof", "SOP_PPROF", "loopback address of a Go profiling endpoint (net/http/pprof under /debug/pprof/, no authentication), e.g. 127.0.0.1:6060; empty: off", str(&c.pprof)},
		{"inject-io-faults", "SOP_INJECT_IO_FAULTS", "testing only: a file naming an errno (EIO, ENOSPC, ...); while it exists, page-file operations in --data fail with that error", str(&c.injectIOFaults)},
		{"config", "SOP_CONFIG", "config file (.yaml, .yml, .toml or .json) with the same settings, keyed by flag name", str(&c.config)},
	}...)
}

// defineFlag defines f on fs; a bool flag alone means true.
func defineFlag(fs *pflag.FlagSet, f serveFlag) {
	pf := fs.VarPF(f.value, f.name, "", f.usage+" (env "+f.env+")")
	if b, ok := f.value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		pf.NoOptDefVal = "true"
	}
}

// stringValue is a string flag that takes any text.
type stringValue string

func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Type() string       { return "string" }

// newServeConfig sets the defaults and defines the flags on fs.
func newServeConfig(fs *pflag.FlagSet) *serveConfig {
	c := &serveConfig{
		data: "./data", http: "127.0.0.1:7070", natsListen: "127.0.0.1:4250", clusterName: "sop", leaseTTL: 5 * time.Second, journalReplicas: 1,
		journalRetain: 10000, journalSync: "always", journalSyncInterval: time.Second,
		cacheSize: 64 << 20, checkpointEntries: 10000, checkpointInterval: 5 * time.Second,
		snapshotKeep: 3, snapshotEntries: 100000, snapshotInterval: time.Hour, snap: newSnapStoreConfig(),
		maxKeySize: httpapi.DefaultMaxKeySize, maxValueSize: httpapi.DefaultMaxValueSize,
		maxBodySize: httpapi.DefaultMaxBodySize, logLevel: "info", logFormat: "text",
	}
	fs.SortFlags = false
	c.s = newSettings(fs)
	for _, f := range c.flags() {
		defineFlag(fs, f)
	}
	for _, f := range c.flags() {
		c.s.bind(f.name, f.env)
	}
	return c
}

// load merges the environment and the config file into the flags and
// checks the result.
func (c *serveConfig) load() error {
	if v, ok := os.LookupEnv("SOP_CONFIG"); ok && !c.s.flags.Changed("config") {
		c.config = v
	}
	if c.config != "" {
		if err := c.s.readConfig(c.config, c.s.source("config")); err != nil {
			return err
		}
	}
	if err := c.s.apply(); err != nil {
		return err
	}
	return c.check()
}

// nodeIDRule is what --node-id may be: it names the node to NATS too.
var nodeIDRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// check applies the rules that span flags or need the file system, and
// loads the token file and the TLS pair.
func (c *serveConfig) check() error {
	src := c.s.source
	switch {
	case strings.TrimSpace(c.data) == "":
		return fmt.Errorf("%s: the data directory is empty: name one, e.g. --data ./data", src("data"))
	case c.passiveData != "" && filepath.Clean(c.passiveData) == filepath.Clean(c.data):
		return fmt.Errorf("%s: the passive data dir is the data dir: name a directory on another volume, or leave it empty", src("passive-data"))
	case c.leaseTTL < 300*time.Millisecond:
		return fmt.Errorf("%s: a lease must live at least 300ms (it is renewed every third of it); 5s is a good default", src("lease-ttl"))
	case strings.TrimSpace(c.clusterName) == "":
		return fmt.Errorf("%s: the cluster name is empty: name the cluster, e.g. --cluster-name prod", src("cluster-name"))
	case c.pageSize&(c.pageSize-1) != 0:
		return fmt.Errorf("%s: a page size is a power of two: 4KiB, 8KiB, 16KiB, 32KiB or 64KiB", src("page-size"))
	case c.nodeID != "" && !nodeIDRule.MatchString(c.nodeID):
		return fmt.Errorf("%s: a node id is 1 to 64 ASCII letters, digits, '.', '-' or '_', starting with a letter or digit", src("node-id"))
	}
	if c.redisURL != "" {
		o, err := redislock.ParseURL(c.redisURL)
		if err != nil {
			return fmt.Errorf("%s: %w (e.g. redis://10.0.0.5:6379/0)", src("redis-url"), err)
		}
		c.redis = o
	}
	if err := checkAddr(c.natsListen, true); err != nil {
		return fmt.Errorf("%s: %w", src("nats-listen"), err)
	}
	if err := checkNATSURL(c.natsURL); err != nil {
		return fmt.Errorf("%s: %w", src("nats-url"), err)
	}
	if err := c.checkHTTP(); err != nil {
		return err
	}
	if err := checkAdvertise(c.advertise); err != nil {
		return fmt.Errorf("%s: %w", src("advertise"), err)
	}
	if err := checkAddr(c.pprof, true); err != nil {
		return fmt.Errorf("%s: %w", src("pprof"), err)
	}
	if c.pprof != "" && !isLoopback(c.pprof) {
		return fmt.Errorf("%s: the profiling endpoint has no authentication: bind it to loopback (e.g. 127.0.0.1:6060) and reach it through an SSH tunnel", src("pprof"))
	}
	if err := c.snap.check(c.s); err != nil {
		return err
	}
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	c.level = level[c.logLevel]
	return nil
}

// checkHTTP checks the HTTP address, TLS and authentication together: a
// node reachable from other machines must authenticate its callers.
func (c *serveConfig) checkHTTP() error {
	src := c.s.source
	if err := checkAddr(c.http, false); err != nil {
		return fmt.Errorf("%s: %w", src("http"), err)
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		given, missing := "tls-cert", "tls-key"
		if c.tlsCert == "" {
			given, missing = missing, given
		}
		return fmt.Errorf("%s without --%s: HTTPS needs both the certificate and its key: give --%s too (env %s), or neither for plain HTTP", src(given), missing, missing, c.s.env[missing])
	}
	if c.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return fmt.Errorf("%s, %s: load the TLS pair: %w", src("tls-cert"), src("tls-key"), err)
		}
		c.cert = &cert
	}
	if c.authTokens != "" {
		t, err := httpapi.LoadTokens(c.authTokens)
		if err != nil {
			return fmt.Errorf("%s: %w", src("auth-tokens"), err)
		}
		c.tokens = t
	}
	if !isLoopback(c.http) && c.tokens == nil {
		advice := "and --tls-cert/--tls-key so tokens do not cross the network in the clear"
		if c.cert != nil {
			advice = "(TLS is on)"
		}
		return fmt.Errorf("%s listens beyond this machine without authentication: give --auth-tokens FILE (lines \"<read|write|admin> <token>\") %s, or bind to 127.0.0.1", src("http"), advice)
	}
	return nil
}

// checkAddr checks a host:port listen address; empty is allowed when
// optional.
func checkAddr(addr string, optional bool) error {
	if addr == "" && optional {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: give e.g. 127.0.0.1:7070 or :7070", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	return nil
}

// checkAdvertise checks an advertised URL: http or https, a host, perhaps
// a path prefix, nothing else.
func checkAdvertise(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	var ip net.IP
	if err == nil {
		ip = net.ParseIP(u.Hostname())
	}
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL: give e.g. https://node1.example.com:7070", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: scheme %q: use http:// or https://", s, u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%q names no host: give e.g. https://node1.example.com:7070", s)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q: user info, a query or a fragment has no place in it", s)
	case ip != nil && ip.IsUnspecified():
		return fmt.Errorf("%q names every interface, which no other machine can reach: give this node's name or address", s)
	}
	return nil
}

// advertiseURL is the URL the node announces: --advertise, or the scheme
// and the address it listens on (ln), with the machine's hostname in place
// of an address that is every interface.
func (c *serveConfig) advertiseURL(ln net.Addr) string {
	if c.advertise != "" {
		return strings.TrimSuffix(c.advertise, "/")
	}
	scheme := "http"
	if c.cert != nil {
		scheme = "https"
	}
	host, port, _ := net.SplitHostPort(ln.String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if name, err := os.Hostname(); err == nil && name != "" {
			host = name
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// checkNATSURL checks a comma-separated list of NATS server URLs.
func checkNATSURL(list string) error {
	if list == "" {
		return nil
	}
	for _, u := range strings.Split(list, ",") {
		scheme, rest, ok := strings.Cut(strings.TrimSpace(u), "://")
		switch {
		case !ok || rest == "":
			return fmt.Errorf("%q is not a URL: give e.g. nats://10.0.0.1:4222, several separated by commas", u)
		case scheme != "nats" && scheme != "tls" && scheme != "ws" && scheme != "wss":
			return fmt.Errorf("%q: scheme %q: use nats://, tls://, ws:// or wss://", u, scheme)
		}
	}
	return nil
}

// isLoopback reports whether a listen address accepts connections from
// this machine only. An empty host is every interface; a host name other
// than localhost is taken as reachable from elsewhere.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dbOptions are the options of the node's sop.DB.
func (c *serveConfig) dbOptions(log *slog.Logger) sop.Options {
	sync := sop.SyncAlways
	if c.journalSync == "interval" {
		sync = sop.SyncInterval
	}
	return sop.Options{
		Dir: c.data, NATSURL: c.natsURL, NATSListen: c.natsListen,
		JournalSync: sync, JournalSyncInterval: c.journalSyncInterval,
		NodeID: c.nodeID, PageSize: int(c.pageSize), CacheSize: c.cacheSize,
		CheckpointEntries: c.checkpointEntries, CheckpointInterval: c.checkpointInterval,
		JournalRetain: uint64(c.journalRetain), SnapshotKeep: c.snapshotKeep,
		SnapshotEntries: c.snapshotEntries, SnapshotInterval: c.snapshotInterval,
		SnapshotsInJetStream: c.snap.kind == "jetstream", Logger: log,
		ClusterName: c.clusterName, LeaseTTL: c.leaseTTL, PassiveDir: c.passiveData, JournalReplicas: c.journalReplicas,
		FS: ioFaults(c.injectIOFaults, c.data),
	}
}

// apiOptions are the options of the HTTP API.
func (c *serveConfig) apiOptions(log *slog.Logger) httpapi.Options {
	return httpapi.Options{
		Tokens: c.tokens, MaxKeySize: int(c.maxKeySize), MaxValueSize: int(c.maxValueSize),
		MaxBodySize: c.maxBodySize, Logger: log.With("component", "http"), Version: binaryVersion(),
	}
}

// logger is the process's logger, to w.
func (c *serveConfig) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.level}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func newServeCmd(st *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a sop node",
		Long: `Run a sop node: open the data directory, start the embedded NATS JetStream
server (unless --nats-url names a cluster), replay each domain's journal from
its last checkpoint, and serve the HTTP API, /metrics, /healthz and /readyz.

Each domain is snapshotted after --snapshot-entries applied entries or
--snapshot-interval, whichever comes first (and on request: sopd snapshot);
a snapshot keeps the newest --snapshot-keep and truncates the journal to
--journal-retain entries behind it. Snapshots go to --snapshot-store: a
directory (DATA/snapshots by default), the JetStream object store, or
Cassandra (--cassandra-hosts and the other --cassandra-* flags).

Every flag can also be set by its environment variable (SOP_...) or by a key
of the --config file (YAML, TOML or JSON, by extension), keyed by the flag's
name without "--". A flag wins over the environment, which wins over the file.

The HTTP API binds to loopback by default. A non-loopback --http needs
--auth-tokens (and should have --tls-cert/--tls-key). SIGINT or SIGTERM shuts
the node down gracefully; a second one kills it.

docs/OPERATIONS.md ("Running sopd") describes every setting.`,
		Example: `  sopd serve
  sopd serve --data /var/lib/sop --http 127.0.0.1:8080 --nats-listen ""
  sopd serve --http 0.0.0.0:7070 --auth-tokens /etc/sop/tokens --tls-cert cert.pem --tls-key key.pem
  SOP_DATA=/var/lib/sop SOP_LOG_FORMAT=json sopd serve
  sopd serve --snapshot-entries off --snapshot-interval 30m --journal-retain 50000
  sopd serve --snapshot-store cassandra --cassandra-hosts 10.0.0.5,10.0.0.6 --cassandra-datacenter dc1 \
             --cassandra-replication dc1:3,dc2:3 --cassandra-username sop --cassandra-password-file /etc/sop/cass-pw
  sopd serve --config /etc/sop/sopd.yaml`,
		Args: argsFor(),
	}
	cfg := newServeConfig(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := cfg.load(); err != nil {
			return err
		}
		return serve(cmd.Context(), cfg, st)
	}
	return cmd
}

// serve runs the node until ctx ends (SIGINT, SIGTERM) or the HTTP
// server fails, then shuts down: HTTP first, then the DB.
func serve(ctx context.Context, cfg *serveConfig, st *streams) error {
	log := cfg.logger(st.err)
	if cfg.natsURL != "" && cfg.s.flags.Changed("nats-listen") {
		log.Warn("--nats-listen is ignored: with --nats-url the node starts no NATS server of its own")
	}
	if !isLoopback(cfg.http) && cfg.cert == nil {
		log.Warn("HTTP listens beyond this machine without TLS: tokens cross the network in the clear; give --tls-cert and --tls-key")
	}
	ln, err := net.Listen("tcp", cfg.http)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another sopd running? choose another --http)", cfg.http, err)
	}
	defer ln.Close()
	if cfg.pprof != "" {
		stop, err := servePprof(cfg.pprof, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	db, closeSnaps, err := openDB(ctx, cfg, cfg.advertiseURL(ln.Addr()), log)
	if err != nil {
		return err
	}
	api, err := httpapi.New(db, cfg.apiOptions(log))
	if err != nil {
		db.Close()
		closeSnaps()
		return err
	}
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	scheme := "http"
	if cfg.cert != nil {
		scheme = "https"
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cfg.cert}, MinVersion: tls.VersionTLS12}
	}
	served := make(chan error, 1)
	go func() {
		if cfg.cert != nil {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()
	nats := cfg.natsListen
	if cfg.natsURL != "" {
		nats = cfg.natsURL
	}
	log.Info("sopd serving", "http", scheme+"://"+ln.Addr().String(), "node", db.Node(), "data", cfg.data,
		"nats", cmp.Or(nats, "in-process"), "auth", cfg.tokens != nil, "version", binaryVersion())

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "cause", context.Cause(ctx))
	case serveErr = <-served:
		log.Error("HTTP server failed", "err", serveErr)
	}
	if st.stopSignals != nil {
		st.stopSignals() // a second signal now kills the process
	}
	shutdown(srv, cancelBase, log)
	err = db.Close()
	if err != nil {
		log.Error("close the node", "err", err)
	}
	if cerr := closeSnaps(); cerr != nil {
		log.Error("close the snapshot store", "err", cerr)
		err = errors.Join(err, cerr)
	}
	if err != nil {
		return errors.Join(serveErr, err)
	}
	log.Info("stopped")
	return serveErr
}

// openDB opens the snapshot store the flags name, then the node's DB; the
// returned func closes the store, after the DB.
func openDB(ctx context.Context, cfg *serveConfig, advertise string, log *slog.Logger) (*sop.DB, func() error, error) {
	snaps, closeSnaps, err := cfg.snap.open(ctx, cfg.data, true)
	if err != nil {
		return nil, nil, err
	}
	opts := cfg.dbOptions(log)
	opts.Snapshots = snaps
	opts.Advertise = advertise
	if cfg.redisURL != "" {
		leases, err := redislock.New(ctx, cfg.redis)
		if err != nil {
			closeSnaps()
			return nil, nil, fmt.Errorf("cluster mode: cannot reach Redis at %s (--redis-url): %w", cfg.redis.Addr, err)
		}
		opts.Leases = leases
		closeStore := closeSnaps
		closeSnaps = func() error { return errors.Join(leases.Close(), closeStore()) }
		log.Info("cluster mode: domain leaders by Redis lease", "redis", cfg.redis.Addr, "cluster", cfg.clusterName, "lease_ttl", cfg.leaseTTL)
	}
	db, err := openRetrying(ctx, opts, log)
	if err != nil {
		closeSnaps()
		return nil, nil, fmt.Errorf("open the node in %s: %w", cfg.data, err)
	}
	flag := func(name string) string { return cfg.s.flags.Lookup(name).Value.String() }
	log.Info("snapshots", "store", cfg.snap.describe(cfg.data), "keep", cfg.snapshotKeep,
		"every_entries", flag("snapshot-entries"), "every", flag("snapshot-interval"), "journal_retain", cfg.journalRetain)
	return db, closeSnaps, nil
}

// openAttempts bounds how often serve tries to open the node while the
// journal cannot be reached (a NATS cluster restarting or electing): about
// a minute and a half in all.
const openAttempts = 20

// openRetrying opens the node, trying again with a growing pause (1s to
// 5s) while the error is sop.ErrUnavailable; any other error, or ctx
// ending, returns at once.
func openRetrying(ctx context.Context, opts sop.Options, log *slog.Logger) (*sop.DB, error) {
	for attempt := 1; ; attempt++ {
		db, err := sop.Open(ctx, opts)
		if err == nil || !errors.Is(err, sop.ErrUnavailable) || attempt == openAttempts {
			return db, err
		}
		log.Warn("cannot reach the journal yet; opening the node again", "attempt", attempt, "of", openAttempts, "err", err)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(min(time.Duration(attempt)*time.Second, 5*time.Second)):
		}
	}
}

// shutdown stops the HTTP server: it stops accepting, lets requests in
// flight finish for a grace period, then ends what is left (change
// streams never go idle by themselves) through the base context, and
// closes any connection still open after the deadline.
func shutdown(srv *http.Server, cancelBase context.CancelFunc, log *slog.Logger) {
	const grace, deadline = 2 * time.Second, 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	t := time.AfterFunc(grace, cancelBase)
	defer t.Stop()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("HTTP connections still open at the shutdown deadline were closed", "err", err)
		srv.Close()
	}
}
