package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sopd/sop/snapshot"
	"github.com/sopd/sop/snapshot/cassandra"
)

// snapStoreConfig is where snapshots are kept: the settings serve and
// restore share.
type snapStoreConfig struct {
	kind string // dir, jetstream or cassandra
	dir  string // for dir; "" is DATA/snapshots

	cassHosts        string
	cassKeyspace     string
	cassDatacenter   string
	cassReplication  string
	cassConsistency  string
	cassConns        int
	cassTimeout      time.Duration
	cassUsername     string
	cassPasswordFile string
	cassCreate       bool

	// Set by check.
	cassPassword string
	cassRepl     map[string]int // data center -> replicas; nil: the store's default
}

// snapStoreKinds are the values of --snapshot-store.
var snapStoreKinds = []string{"dir", "jetstream", "cassandra"}

// cassandraConsistencies are the consistency levels --cassandra-consistency
// takes: those that apply to both reads and writes.
var cassandraConsistencies = []string{"ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_ONE", "LOCAL_QUORUM"}

// keyspaceRule is what the Cassandra store takes as a keyspace name.
var keyspaceRule = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

func newSnapStoreConfig() snapStoreConfig {
	return snapStoreConfig{
		kind: "dir", cassKeyspace: cassandra.DefaultKeyspace, cassConsistency: cassandra.DefaultConsistency,
		cassConns: cassandra.DefaultNumConns, cassTimeout: cassandra.DefaultTimeout, cassCreate: true,
	}
}

// flags are the snapshot store's flags, in --help order.
func (c *snapStoreConfig) flags() []serveFlag {
	str := func(p *string) *stringValue { return (*stringValue)(p) }
	return []serveFlag{
		{"snapshot-store", "SOP_SNAPSHOT_STORE", "where snapshots are kept: dir (a directory, --snapshot-dir), jetstream (the JetStream object store of the node's NATS) or cassandra (--cassandra-*)", &choiceValue{p: &c.kind, choices: snapStoreKinds}},
		{"snapshot-dir", "SOP_SNAPSHOT_DIR", "the directory of --snapshot-store dir; empty: DATA/snapshots", str(&c.dir)},
		{"cassandra-hosts", "SOP_CASSANDRA_HOSTS", "Cassandra contact points for --snapshot-store cassandra, comma-separated host or host:port (port 9042 by default)", str(&c.cassHosts)},
		{"cassandra-keyspace", "SOP_CASSANDRA_KEYSPACE", "the keyspace of the snapshot tables", str(&c.cassKeyspace)},
		{"cassandra-create-schema", "SOP_CASSANDRA_CREATE_SCHEMA", "serve creates the keyspace and tables when missing; false: it only checks that they exist (for a user without CREATE permission)", &boolValue{&c.cassCreate}},
		{"cassandra-datacenter", "SOP_CASSANDRA_DATACENTER", "this node's Cassandra data center: requests go to its hosts first and LOCAL_ levels mean it; empty: any host, and the coordinator's data center", str(&c.cassDatacenter)},
		{"cassandra-replication", "SOP_CASSANDRA_REPLICATION", "replicas per data center of a keyspace serve creates, e.g. dc1:3,dc2:3; empty: 3 in --cassandra-datacenter (or datacenter1). An existing keyspace keeps its own", str(&c.cassReplication)},
		{"cassandra-consistency", "SOP_CASSANDRA_CONSISTENCY", "consistency level of reads and writes: " + strings.Join(cassandraConsistencies, ", "), &choiceValue{p: &c.cassConsistency, choices: cassandraConsistencies, typ: "level"}},
		{"cassandra-conns", "SOP_CASSANDRA_CONNS", "connections per Cassandra host", &intValue{p: &c.cassConns, min: 1, max: 64}},
		{"cassandra-timeout", "SOP_CASSANDRA_TIMEOUT", "timeout of one Cassandra query", &durationValue{p: &c.cassTimeout}},
		{"cassandra-username", "SOP_CASSANDRA_USERNAME", "Cassandra user (password authentication); with --cassandra-password-file", str(&c.cassUsername)},
		{"cassandra-password-file", "SOP_CASSANDRA_PASSWORD_FILE", "file holding the Cassandra user's password (never give a password on the command line)", str(&c.cassPasswordFile)},
	}
}

// cassandraFlags names the flags that only apply to --snapshot-store
// cassandra, with their values and defaults.
func (c *snapStoreConfig) cassandraFlags() []struct{ name, value, def string } {
	d := newSnapStoreConfig()
	return []struct{ name, value, def string }{
		{"cassandra-hosts", c.cassHosts, d.cassHosts},
		{"cassandra-keyspace", c.cassKeyspace, d.cassKeyspace},
		{"cassandra-create-schema", strconv.FormatBool(c.cassCreate), strconv.FormatBool(d.cassCreate)},
		{"cassandra-datacenter", c.cassDatacenter, d.cassDatacenter},
		{"cassandra-replication", c.cassReplication, d.cassReplication},
		{"cassandra-consistency", c.cassConsistency, d.cassConsistency},
		{"cassandra-conns", strconv.Itoa(c.cassConns), strconv.Itoa(d.cassConns)},
		{"cassandra-timeout", c.cassTimeout.String(), d.cassTimeout.String()},
		{"cassandra-username", c.cassUsername, d.cassUsername},
		{"cassandra-password-file", c.cassPasswordFile, d.cassPasswordFile},
	}
}

// check applies the rules between the snapshot flags, and reads the
// Cassandra password file. A flag for another kind of store is an error,
// not silently ignored.
func (c *snapStoreConfig) check(s *settings) error {
	if c.dir != "" && c.kind != "dir" {
		return fmt.Errorf("%s is for --snapshot-store dir, but %s: unset one of them", s.source("snapshot-dir"), s.source("snapshot-store"))
	}
	if c.kind != "cassandra" {
		for _, f := range c.cassandraFlags() {
			if f.value != f.def {
				return fmt.Errorf("%s is for --snapshot-store cassandra, but %s: give --snapshot-store cassandra, or unset --%s", s.source(f.name), s.source("snapshot-store"), f.name)
			}
		}
		return nil
	}
	return c.checkCassandra(s)
}

func (c *snapStoreConfig) checkCassandra(s *settings) error {
	if len(c.hosts()) == 0 {
		return fmt.Errorf("%s needs Cassandra hosts: give --cassandra-hosts host1,host2 (env SOP_CASSANDRA_HOSTS)", s.source("snapshot-store"))
	}
	if !keyspaceRule.MatchString(c.cassKeyspace) {
		return fmt.Errorf("%s: a keyspace name is a lower-case letter, then up to 47 lower-case letters, digits or '_', e.g. %s", s.source("cassandra-keyspace"), cassandra.DefaultKeyspace)
	}
	repl, err := parseReplication(c.cassReplication)
	if err != nil {
		return fmt.Errorf("%s: %w", s.source("cassandra-replication"), err)
	}
	if repl != nil && c.cassDatacenter != "" && repl[c.cassDatacenter] == 0 {
		return fmt.Errorf("%s has no replicas in %s: name the local data center in the replication too", s.source("cassandra-replication"), s.source("cassandra-datacenter"))
	}
	c.cassRepl = repl
	if (c.cassUsername == "") != (c.cassPasswordFile == "") {
		return fmt.Errorf("%s, %s: password authentication needs both the user and the password file; give both or neither", s.source("cassandra-username"), s.source("cassandra-password-file"))
	}
	if c.cassPasswordFile != "" {
		b, err := os.ReadFile(c.cassPasswordFile)
		if err != nil {
			return fmt.Errorf("%s: %w", s.source("cassandra-password-file"), err)
		}
		if c.cassPassword = strings.TrimRight(string(b), "\r\n"); c.cassPassword == "" {
			return fmt.Errorf("%s: the file is empty: put the password in it", s.source("cassandra-password-file"))
		}
	}
	// The store's own checks, for anything the flags' did not cover.
	if _, err := c.cassandraConfig(true).SchemaCQL(); err != nil {
		return fmt.Errorf("the --cassandra-* flags: %w", err)
	}
	return nil
}

// hosts are the Cassandra contact points, without blanks.
func (c *snapStoreConfig) hosts() []string {
	var hosts []string
	for h := range strings.SplitSeq(c.cassHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// parseReplication parses "dc1:3,dc2:3" into replicas per data center;
// empty is nil.
func parseReplication(s string) (map[string]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	repl := map[string]int{}
	for part := range strings.SplitSeq(s, ",") {
		dc, n, ok := strings.Cut(strings.TrimSpace(part), ":")
		dc = strings.TrimSpace(dc)
		r, err := strconv.Atoi(strings.TrimSpace(n))
		switch {
		case !ok || dc == "" || err != nil:
			return nil, fmt.Errorf("%q is not DC:REPLICAS: give each data center and its replica count, e.g. dc1:3,dc2:3", part)
		case r < 1 || r > 100:
			return nil, fmt.Errorf("%q: %d replicas is out of range: give 1 to 100", part, r)
		case repl[dc] != 0:
			return nil, fmt.Errorf("data center %q is named twice", dc)
		}
		repl[dc] = r
	}
	return repl, nil
}

// cassandraConfig is the Cassandra store's configuration from the flags;
// create: create the keyspace and tables when missing, unless
// --cassandra-create-schema false.
func (c *snapStoreConfig) cassandraConfig(create bool) cassandra.Config {
	return cassandra.Config{
		Hosts: c.hosts(), Keyspace: c.cassKeyspace, Datacenter: c.cassDatacenter,
		Replication: c.cassRepl, Consistency: c.cassConsistency,
		NumConns: c.cassConns, Timeout: c.cassTimeout,
		Username: c.cassUsername, Password: c.cassPassword,
		CreateKeyspace: create && c.cassCreate,
	}
}

// open opens the store the flags name for data directory data: nil for
// sop's default (the directory DATA/snapshots, or JetStream, which the DB
// opens itself), and a closer to call after the DB is closed. create: a
// Cassandra keyspace and its tables are created when missing.
func (c *snapStoreConfig) open(ctx context.Context, data string, create bool) (snapshot.Store, func() error, error) {
	none := func() error { return nil }
	switch c.kind {
	case "cassandra":
		st, err := cassandra.Open(ctx, c.cassandraConfig(create))
		if err != nil {
			return nil, nil, fmt.Errorf("open the Cassandra snapshot store (%s, keyspace %s): %w", strings.Join(c.hosts(), ","), c.cassKeyspace, err)
		}
		return st, closerOf(st), nil
	case "dir":
		if c.dir == "" || samePath(c.dir, filepath.Join(data, "snapshots")) {
			return nil, none, nil
		}
		st, err := snapshot.NewDir(c.dir)
		if err != nil {
			return nil, nil, fmt.Errorf("--snapshot-dir %s: %w", c.dir, err)
		}
		return st, none, nil
	}
	return nil, none, nil
}

// closerOf returns st's Close, whichever form it has.
func closerOf(st any) func() error {
	switch st := st.(type) {
	case io.Closer:
		return st.Close
	case interface{ Close() }:
		return func() error { st.Close(); return nil }
	}
	return func() error { return nil }
}

// samePath reports whether a and b name the same path, after cleaning
// and making both absolute.
func samePath(a, b string) bool {
	abs := func(p string) string {
		if q, err := filepath.Abs(p); err == nil {
			return q
		}
		return filepath.Clean(p)
	}
	return abs(a) == abs(b)
}

// describe names the store for the log.
func (c *snapStoreConfig) describe(data string) string {
	switch c.kind {
	case "cassandra":
		return "cassandra://" + strings.Join(c.hosts(), ",") + "/" + c.cassKeyspace
	case "jetstream":
		return "jetstream object store"
	}
	return "dir " + cmp.Or(c.dir, filepath.Join(data, "snapshots"))
}
