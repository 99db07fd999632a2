package cassandra

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// Defaults of Config.
const (
	DefaultKeyspace          = "sop"
	DefaultDatacenter        = "datacenter1" // Cassandra's own default DC name
	DefaultReplicationFactor = 3
	DefaultConsistency       = "LOCAL_QUORUM"
	DefaultSerialConsistency = "LOCAL_SERIAL"
	DefaultNumConns          = 2
	DefaultTimeout           = 11 * time.Second // above Cassandra's server-side request timeouts
	DefaultConnectTimeout    = 11 * time.Second
	DefaultChunkSize         = 1 << 20
	DefaultAbandonAfter      = time.Hour
)

// Limits of Config.
const (
	// MaxChunkSize keeps a chunk's write well under Cassandra's limits on a
	// mutation (half a commit log segment: 16 MiB by default) and on a
	// native protocol frame (16 MiB).
	MaxChunkSize = 8 << 20
	// MinAbandonAfter is the shortest AbandonAfter accepted.
	MinAbandonAfter = time.Minute
)

// Config configures Open. The zero values of its optional fields select
// the defaults above.
type Config struct {
	// Hosts are the contact points, "host" or "host:port" (port 9042 by
	// default). Required.
	Hosts []string
	// Keyspace holds the tables: lower-case letters, digits and '_',
	// starting with a letter, at most 48 characters. Default "sop".
	Keyspace string
	// Datacenter is the local data center. When set, requests go to its
	// nodes (replicas of the data first, then round robin), so LOCAL_*
	// consistency levels refer to it; its remote nodes coordinate only
	// when none of its own is up. When empty, any node coordinates, and
	// LOCAL_* refers to that node's data center.
	Datacenter string
	// Replication maps each data center to its replication factor for the
	// keyspace's NetworkTopologyStrategy. Used only when CreateKeyspace
	// creates the keyspace; an existing keyspace keeps its replication.
	// Default {Datacenter (or "datacenter1"): 3}.
	Replication map[string]int
	// Consistency of every read and write; default LOCAL_QUORUM. One of
	// ONE, TWO, THREE, QUORUM, ALL, LOCAL_ONE, LOCAL_QUORUM (any case).
	Consistency string
	// SerialConsistency of the lightweight transactions on manifest rows:
	// LOCAL_SERIAL (default) or SERIAL.
	SerialConsistency string
	// NumConns is the number of connections kept open to each host;
	// default 2. Each multiplexes many concurrent requests (up to 32768
	// streams), so a few suffice where a pool of one request per
	// connection would need many.
	NumConns int
	// Timeout bounds one request on the client side; default 11 s.
	Timeout time.Duration
	// ConnectTimeout bounds dialing and setting up one connection; default
	// 11 s.
	ConnectTimeout time.Duration
	// Username and Password authenticate with PasswordAuthenticator when
	// Username is set.
	Username string
	Password string
	// ChunkSize is the size of the blobs a snapshot is cut into; default
	// 1 MiB, at most MaxChunkSize. Readers need not share it.
	ChunkSize int
	// CreateKeyspace creates the keyspace (with Replication) and the tables
	// when missing. Without it Open checks that the tables exist; create
	// them with the statements of SchemaCQL.
	CreateKeyspace bool
	// AbandonAfter is how long a Put may go without progress (a
	// reservation every 64 chunks) before Cleanup takes it for abandoned
	// (its process crashed) and removes what it wrote; default 1 hour, at
	// least MinAbandonAfter. It must also exceed the clock skew between
	// nodes, since the row's time comes from the writer's clock and the
	// age from Cleanup's.
	AbandonAfter time.Duration
}

// keyspaceRule admits names that need no quoting in CQL.
var keyspaceRule = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

// withDefaults returns c with its zero optional fields set, and an error
// naming the first invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.Keyspace == "" {
		c.Keyspace = DefaultKeyspace
	}
	if c.Replication == nil {
		dc := c.Datacenter
		if dc == "" {
			dc = DefaultDatacenter
		}
		c.Replication = map[string]int{dc: DefaultReplicationFactor}
	}
	if c.Consistency == "" {
		c.Consistency = DefaultConsistency
	}
	if c.SerialConsistency == "" {
		c.SerialConsistency = DefaultSerialConsistency
	}
	if c.NumConns == 0 {
		c.NumConns = DefaultNumConns
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = DefaultChunkSize
	}
	if c.AbandonAfter == 0 {
		c.AbandonAfter = DefaultAbandonAfter
	}
	return c, c.check()
}

func (c Config) check() error {
	if len(c.Hosts) == 0 {
		return errors.New("no hosts")
	}
	for _, h := range c.Hosts {
		if strings.TrimSpace(h) == "" {
			return fmt.Errorf("hosts %q: an empty host", c.Hosts)
		}
	}
	if !keyspaceRule.MatchString(c.Keyspace) {
		return fmt.Errorf("keyspace %q: want a lower-case letter, then up to 47 lower-case letters, digits or '_'", c.Keyspace)
	}
	if _, err := replicationCQL(c.Replication); err != nil {
		return err
	}
	if c.Datacenter != "" && c.Replication[c.Datacenter] == 0 {
		return fmt.Errorf("replication %v has no replicas in the local data center %q", c.Replication, c.Datacenter)
	}
	if _, err := parseConsistency(c.Consistency); err != nil {
		return err
	}
	if _, err := parseSerial(c.SerialConsistency); err != nil {
		return err
	}
	switch {
	case c.NumConns < 0:
		return fmt.Errorf("connections per host %d: want at least 1", c.NumConns)
	case c.Timeout < 0 || c.ConnectTimeout < 0:
		return fmt.Errorf("timeouts %v, %v: want positive durations", c.Timeout, c.ConnectTimeout)
	case c.ChunkSize < 1 || c.ChunkSize > MaxChunkSize:
		return fmt.Errorf("chunk size %d: want 1 to %d bytes", c.ChunkSize, MaxChunkSize)
	case c.AbandonAfter < MinAbandonAfter:
		return fmt.Errorf("abandon after %v: want at least %v", c.AbandonAfter, MinAbandonAfter)
	case c.Password != "" && c.Username == "":
		return errors.New("a password without a username")
	}
	return nil
}

// parseConsistency parses a consistency level for reads and writes.
func parseConsistency(s string) (gocql.Consistency, error) {
	var c gocql.Consistency
	err := c.UnmarshalText([]byte(strings.ToUpper(s)))
	switch {
	case err != nil:
	case c == gocql.Any, c == gocql.EachQuorum, c == gocql.Serial, c == gocql.LocalSerial:
		err = errors.New("not a level for both reads and writes")
	default:
		return c, nil
	}
	return 0, fmt.Errorf("consistency %q: %v; want ONE, TWO, THREE, QUORUM, ALL, LOCAL_ONE or LOCAL_QUORUM", s, err)
}

// parseSerial parses the serial consistency of lightweight transactions.
func parseSerial(s string) (gocql.Consistency, error) {
	var c gocql.Consistency
	if err := c.UnmarshalText([]byte(strings.ToUpper(s))); err != nil || (c != gocql.Serial && c != gocql.LocalSerial) {
		return 0, fmt.Errorf("serial consistency %q: want SERIAL or LOCAL_SERIAL", s)
	}
	return c, nil
}

// replicationCQL returns the replication map of a NetworkTopologyStrategy
// keyspace, data centers in name order:
// {'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}.
func replicationCQL(factors map[string]int) (string, error) {
	if len(factors) == 0 {
		return "", errors.New("replication: no data centers")
	}
	dcs := make([]string, 0, len(factors))
	for dc, n := range factors {
		if dc == "" || dc == "class" {
			return "", fmt.Errorf("replication: data center name %q", dc)
		}
		if n < 1 {
			return "", fmt.Errorf("replication: data center %q: factor %d, want at least 1", dc, n)
		}
		dcs = append(dcs, dc)
	}
	sort.Strings(dcs)
	var b strings.Builder
	b.WriteString("{'class': 'NetworkTopologyStrategy'")
	for _, dc := range dcs {
		fmt.Fprintf(&b, ", %s: %d", quote(dc), factors[dc])
	}
	b.WriteString("}")
	return b.String(), nil
}

// quote returns s as a CQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// SchemaCQL returns the statements that create the keyspace and the tables
// (each IF NOT EXISTS), for operators who create them by hand. Open with
// CreateKeyspace runs the same statements.
//
// manifest has one row per snapshot, in one partition per domain,
// clustered by ID descending: IDs begin with the zero-padded seq, so rows
// come newest first (List still sorts by Seq, which the caller sets).
// complete is true once every chunk is stored; deleting marks a row whose
// chunks are being removed; reserved bounds the chunk numbers a Put may
// have written; updated is when the row last changed. chunks has one
// partition per chunk, so that no partition grows with the snapshot.
func (c Config) SchemaCQL() ([]string, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("cassandra snapshot store: %w", err)
	}
	repl, _ := replicationCQL(c.Replication)
	ks := c.Keyspace
	return []string{
		fmt.Sprintf("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s AND durable_writes = true", ks, repl),
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.manifest (
	domain text,
	id text,
	seq bigint,
	bytes bigint,
	chunks int,
	digest blob,
	created timestamp,
	complete boolean,
	deleting boolean,
	reserved int,
	updated timestamp,
	PRIMARY KEY ((domain), id)
) WITH CLUSTERING ORDER BY (id DESC) AND comment = 'sop snapshots: one row per snapshot'`, ks),
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.chunks (
	domain text,
	id text,
	n int,
	data blob,
	PRIMARY KEY ((domain, id, n))
) WITH comment = 'sop snapshots: the bytes, one partition per chunk'`, ks),
	}, nil
}

// clusterConfig returns the driver configuration for c (defaults applied).
func (c Config) clusterConfig() *gocql.ClusterConfig {
	cc := gocql.NewCluster(c.Hosts...)
	cc.Consistency, _ = parseConsistency(c.Consistency)
	cc.SerialConsistency, _ = parseSerial(c.SerialConsistency)
	cc.NumConns = c.NumConns
	cc.Timeout = c.Timeout
	cc.ConnectTimeout = c.ConnectTimeout
	fallback := gocql.RoundRobinHostPolicy()
	if c.Datacenter != "" {
		fallback = gocql.DCAwareRoundRobinPolicy(c.Datacenter)
	}
	cc.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(fallback)
	// Only queries marked idempotent are retried: reads and chunk writes,
	// never the lightweight transactions.
	cc.RetryPolicy = &gocql.ExponentialBackoffRetryPolicy{NumRetries: 3, Min: 100 * time.Millisecond, Max: 2 * time.Second}
	if c.Username != "" {
		cc.Authenticator = gocql.PasswordAuthenticator{Username: c.Username, Password: c.Password}
	}
	return cc
}
