package cassandra

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

func TestConfigDefaults(t *testing.T) {
	c, err := Config{Hosts: []string{"h1"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Hosts:             []string{"h1"},
		Keyspace:          "sop",
		Replication:       map[string]int{"datacenter1": 3},
		Consistency:       "LOCAL_QUORUM",
		SerialConsistency: "LOCAL_SERIAL",
		NumConns:          2,
		Timeout:           11 * time.Second,
		ConnectTimeout:    11 * time.Second,
		ChunkSize:         1 << 20,
		AbandonAfter:      time.Hour,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", c, want)
	}
	c, err = Config{Hosts: []string{"h1"}, Datacenter: "eu-west"}.withDefaults()
	if err != nil || len(c.Replication) != 1 || c.Replication["eu-west"] != 3 {
		t.Fatalf("replication with a local DC = %v, %v; want {eu-west: 3}", c.Replication, err)
	}
}

func TestConfigInvalid(t *testing.T) {
	ok := Config{Hosts: []string{"h1", "h2:9043"}}
	if _, err := ok.withDefaults(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string // in the error
	}{
		{"no hosts", func(c *Config) { c.Hosts = nil }, "no hosts"},
		{"empty host", func(c *Config) { c.Hosts = []string{"h", " "} }, "empty host"},
		{"keyspace case", func(c *Config) { c.Keyspace = "Sop" }, "keyspace"},
		{"keyspace quote", func(c *Config) { c.Keyspace = "a;drop" }, "keyspace"},
		{"keyspace digit", func(c *Config) { c.Keyspace = "1a" }, "keyspace"},
		{"keyspace long", func(c *Config) { c.Keyspace = "a" + strings.Repeat("b", 48) }, "keyspace"},
		{"replication empty", func(c *Config) { c.Replication = map[string]int{} }, "no data centers"},
		{"replication zero", func(c *Config) { c.Replication = map[string]int{"dc1": 0} }, "factor 0"},
		{"replication class", func(c *Config) { c.Replication = map[string]int{"class": 1} }, "name"},
		{"local dc missing", func(c *Config) { c.Datacenter = "dc2"; c.Replication = map[string]int{"dc1": 3} }, "local data center"},
		{"consistency unknown", func(c *Config) { c.Consistency = "MOST" }, "consistency"},
		{"consistency any", func(c *Config) { c.Consistency = "ANY" }, "consistency"},
		{"consistency serial", func(c *Config) { c.Consistency = "LOCAL_SERIAL" }, "consistency"},
		{"consistency each quorum", func(c *Config) { c.Consistency = "EACH_QUORUM" }, "consistency"},
		{"serial consistency", func(c *Config) { c.SerialConsistency = "QUORUM" }, "serial consistency"},
		{"conns", func(c *Config) { c.NumConns = -1 }, "connections"},
		{"timeout", func(c *Config) { c.Timeout = -time.Second }, "timeouts"},
		{"chunk size", func(c *Config) { c.ChunkSize = MaxChunkSize + 1 }, "chunk size"},
		{"chunk size negative", func(c *Config) { c.ChunkSize = -1 }, "chunk size"},
		{"abandon", func(c *Config) { c.AbandonAfter = time.Second }, "abandon"},
		{"password", func(c *Config) { c.Password = "x" }, "password"},
	} {
		cfg := ok
		cfg.Hosts = append([]string(nil), ok.Hosts...)
		c.edit(&cfg)
		if _, err := cfg.withDefaults(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

func TestConsistencyCase(t *testing.T) {
	c, err := parseConsistency("local_one")
	if err != nil || c != gocql.LocalOne {
		t.Fatalf("parse local_one = %v, %v", c, err)
	}
	s, err := parseSerial("serial")
	if err != nil || s != gocql.Serial {
		t.Fatalf("parse serial = %v, %v", s, err)
	}
}

func TestReplicationCQL(t *testing.T) {
	for _, c := range []struct {
		in   map[string]int
		want string
	}{
		{map[string]int{"datacenter1": 3}, "{'class': 'NetworkTopologyStrategy', 'datacenter1': 3}"},
		{map[string]int{"us-east": 3, "eu-west": 2, "ap": 1}, "{'class': 'NetworkTopologyStrategy', 'ap': 1, 'eu-west': 2, 'us-east': 3}"},
		{map[string]int{"o'dc": 5}, "{'class': 'NetworkTopologyStrategy', 'o''dc': 5}"},
	} {
		got, err := replicationCQL(c.in)
		if err != nil || got != c.want {
			t.Errorf("replicationCQL(%v) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestSchemaCQL(t *testing.T) {
	stmts, err := Config{Hosts: []string{"h"}, Keyspace: "snaps", Replication: map[string]int{"dc1": 3, "dc2": 3}}.SchemaCQL()
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 3 {
		t.Fatalf("%d statements, want 3", len(stmts))
	}
	for i, want := range []string{
		"CREATE KEYSPACE IF NOT EXISTS snaps WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 3}",
		"CREATE TABLE IF NOT EXISTS snaps.manifest (",
		"CREATE TABLE IF NOT EXISTS snaps.chunks (",
	} {
		if !strings.HasPrefix(stmts[i], want) {
			t.Errorf("statement %d = %q, want it to begin %q", i, stmts[i], want)
		}
	}
	for _, want := range []string{"PRIMARY KEY ((domain), id)", "CLUSTERING ORDER BY (id DESC)", "complete boolean", "reserved int"} {
		if !strings.Contains(stmts[1], want) {
			t.Errorf("manifest table lacks %q", want)
		}
	}
	if !strings.Contains(stmts[2], "PRIMARY KEY ((domain, id, n))") {
		t.Errorf("chunks table: %s", stmts[2])
	}
	if _, err := (Config{}).SchemaCQL(); err == nil {
		t.Error("SchemaCQL of an invalid config succeeded")
	}
}

func TestStatementsNameKeyspace(t *testing.T) {
	q := newCQLTables(nil, "ks", gocql.LocalSerial).q
	for _, s := range []string{q.begin, q.reserve, q.finish, q.markComplete, q.markPending, q.markPendingSince, q.drop, q.get, q.list, q.putChunk, q.getChunk, q.deleteChunk} {
		if !strings.Contains(s, " ks.manifest") && !strings.Contains(s, " ks.chunks") {
			t.Errorf("statement does not name the keyspace: %s", s)
		}
		// The manifest changes only by lightweight transactions.
		if strings.Contains(s, "ks.manifest") && !strings.HasPrefix(s, "SELECT") && !strings.Contains(s, " IF ") {
			t.Errorf("manifest write without a condition: %s", s)
		}
		if got, want := strings.Count(s, "?"), placeholders(q, s); got != want {
			t.Errorf("%d placeholders, the code binds %d: %s", got, want, s)
		}
	}
}

// placeholders returns how many values the code binds to statement s.
func placeholders(q statements, s string) int {
	switch s {
	case q.begin:
		return 4
	case q.reserve, q.markComplete, q.markPending:
		return 4
	case q.finish:
		return 7
	case q.markPendingSince:
		return 5
	case q.drop, q.get:
		return 2
	case q.list:
		return 1
	case q.putChunk:
		return 4
	case q.getChunk, q.deleteChunk:
		return 3
	}
	return -1
}

func TestClusterConfig(t *testing.T) {
	c, err := Config{Hosts: []string{"h1"}, Datacenter: "dc1", Consistency: "quorum", NumConns: 4, Username: "u", Password: "p", Timeout: time.Second}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	cc := c.clusterConfig()
	if cc.Consistency != gocql.Quorum || cc.SerialConsistency != gocql.LocalSerial || cc.NumConns != 4 || cc.Timeout != time.Second || cc.Keyspace != "" {
		t.Fatalf("cluster config %+v", cc)
	}
	if a, ok := cc.Authenticator.(gocql.PasswordAuthenticator); !ok || a.Username != "u" || a.Password != "p" {
		t.Fatalf("authenticator %#v", cc.Authenticator)
	}
	if cc.PoolConfig.HostSelectionPolicy == nil || cc.RetryPolicy == nil {
		t.Fatal("no host selection or retry policy")
	}
}

func TestReadChunk(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 10) // 100 bytes
	for _, c := range []struct {
		name string
		r    func() io.Reader
		size int
		want []int // chunk sizes
	}{
		{"exact multiple", func() io.Reader { return bytes.NewReader(data) }, 25, []int{25, 25, 25, 25}},
		{"remainder", func() io.Reader { return bytes.NewReader(data) }, 30, []int{30, 30, 30, 10}},
		{"one chunk", func() io.Reader { return bytes.NewReader(data) }, 1000, []int{100}},
		{"one byte reads", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) }, 40, []int{40, 40, 20}},
		{"data with EOF", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) }, 50, []int{50, 50}},
		{"empty", func() io.Reader { return bytes.NewReader(nil) }, 10, nil},
	} {
		buf := make([]byte, c.size)
		r := c.r()
		var got []int
		var all []byte
		for {
			n, err := readChunk(r, buf)
			if n > 0 {
				got = append(got, n)
				all = append(all, buf[:n]...)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if n != c.size {
				t.Fatalf("%s: a short chunk (%d) without EOF", c.name, n)
			}
		}
		if !slices.Equal(got, c.want) || (len(c.want) > 0 && !bytes.Equal(all, data)) {
			t.Errorf("%s: chunks %v, want %v", c.name, got, c.want)
		}
	}
	boom := errors.New("boom")
	if _, err := readChunk(iotest.ErrReader(boom), make([]byte, 8)); !errors.Is(err, boom) {
		t.Errorf("reader error: %v", err)
	}
}
