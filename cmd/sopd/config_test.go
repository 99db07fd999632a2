package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sopd/sop"
	"github.com/sopd/sop/snapshot/cassandra"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// clearEnv unsets every SOP_ variable for the test, so the caller's
// environment does not leak in.
func clearEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "SOP_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

// loadServe parses args as serve's flags, with env set, and loads the
// configuration.
func loadServe(t *testing.T, env map[string]string, args ...string) (*serveConfig, error) {
	t.Helper()
	clearEnv(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.SetOutput(&strings.Builder{})
	c := newServeConfig(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return c, c.load()
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServeDefaults(t *testing.T) {
	c, err := loadServe(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The contract's table.
	if c.data != "./data" || c.http != "127.0.0.1:7070" || c.natsURL != "" || c.natsListen != "127.0.0.1:4250" ||
		c.redisURL != "" || c.nodeID != "" || c.journalRetain != 10000 || c.config != "" {
		t.Errorf("defaults differ from CONTRACT.md: %+v", c)
	}
	o := c.dbOptions(nil)
	if o.JournalSync != sop.SyncAlways || o.JournalSyncInterval != time.Second || o.CacheSize != 64<<20 || o.PageSize != 0 ||
		o.CheckpointEntries != 10000 || o.CheckpointInterval != 5*time.Second || o.Dir != "./data" || o.NATSListen != "127.0.0.1:4250" {
		t.Errorf("sop.Options = %+v", o)
	}
	if o.JournalRetain != 10000 || o.SnapshotKeep != 3 || o.SnapshotEntries != 100000 || o.SnapshotInterval != time.Hour ||
		o.SnapshotsInJetStream || o.Snapshots != nil {
		t.Errorf("snapshot options = %+v", o)
	}
	if o.JournalReplicas != 1 || o.PassiveDir != "" || o.FS != nil {
		t.Errorf("replicas, passive dir, fault injection: %d %q %v", o.JournalReplicas, o.PassiveDir, o.FS)
	}
	if c.snap.kind != "dir" || c.snap.dir != "" || c.snap.cassConsistency != "LOCAL_QUORUM" || c.snap.cassKeyspace != "sop" {
		t.Errorf("snapshot store settings = %+v", c.snap)
	}
	a := c.apiOptions(c.logger(os.Stderr))
	if a.Tokens != nil || a.MaxKeySize != 4096 || a.MaxValueSize != 4<<20 || a.MaxBodySize != 16<<20 {
		t.Errorf("httpapi.Options = %+v", a)
	}
}

// TestServePrecedence checks flag > environment > config file > default,
// for each config file format.
func TestServePrecedence(t *testing.T) {
	files := map[string]string{
		"sopd.yaml": "data: /from/file\nhttp: 127.0.0.1:1\ncache-size: 32MiB\njournal-sync: interval\nnats-listen: 127.0.0.1:9\ncheckpoint-entries: 77\n",
		"sopd.toml": "data = \"/from/file\"\nhttp = \"127.0.0.1:1\"\ncache-size = \"32MiB\"\njournal-sync = \"interval\"\nnats-listen = \"127.0.0.1:9\"\ncheckpoint-entries = 77\n",
		"sopd.json": `{"data":"/from/file","http":"127.0.0.1:1","cache-size":"32MiB","journal-sync":"interval","nats-listen":"127.0.0.1:9","checkpoint-entries":77}`,
	}
	for name, text := range files {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, name, text)
			env := map[string]string{"SOP_HTTP": "127.0.0.1:2", "SOP_CACHE_SIZE": "16MiB", "SOP_NATS_LISTEN": ""}
			c, err := loadServe(t, env, "--config", path, "--cache-size", "8MiB")
			if err != nil {
				t.Fatal(err)
			}
			for _, check := range []struct {
				name      string
				got, want any
			}{
				{"data (file over default)", c.data, "/from/file"},
				{"http (env over file)", c.http, "127.0.0.1:2"},
				{"cache-size (flag over env)", c.cacheSize, int64(8 << 20)},
				{"journal-sync (file)", c.journalSync, "interval"},
				{"nats-listen (empty env over file)", c.natsListen, ""},
				{"checkpoint-entries (file number)", c.checkpointEntries, 77},
				{"journal-retain (default)", c.journalRetain, 10000},
			} {
				if check.got != check.want {
					t.Errorf("%s = %v, want %v", check.name, check.got, check.want)
				}
			}
		})
	}
	t.Run("SOP_CONFIG", func(t *testing.T) {
		env := writeFile(t, "env.yaml", "data: /env-file\n")
		flag := writeFile(t, "flag.yaml", "data: /flag-file\n")
		c, err := loadServe(t, map[string]string{"SOP_CONFIG": env})
		if err != nil || c.data != "/env-file" {
			t.Errorf("SOP_CONFIG: data = %q, %v", c.data, err)
		}
		c, err = loadServe(t, map[string]string{"SOP_CONFIG": env}, "--config", flag)
		if err != nil || c.data != "/flag-file" {
			t.Errorf("--config over SOP_CONFIG: data = %q, %v", c.data, err)
		}
	})
}

func TestServeBadValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		file string // YAML text, or "name.ext:text"
		args []string
		want []string // substrings of the error
	}{
		{name: "flag size", args: []string{"--cache-size", "lots"}, want: []string{"--cache-size", "not a size"}},
		{name: "env size", env: map[string]string{"SOP_CACHE_SIZE": "lots"}, want: []string{"SOP_CACHE_SIZE", "not a size", "64MiB"}},
		{name: "file size", file: "cache-size: lots", want: []string{"key cache-size", "not a size"}},
		{name: "size too small", args: []string{"--cache-size", "1KiB"}, want: []string{"out of range"}},
		{name: "retain zero", env: map[string]string{"SOP_JOURNAL_RETAIN": "0"}, want: []string{"SOP_JOURNAL_RETAIN", "out of range"}},
		{name: "retain negative", args: []string{"--journal-retain", "-5"}, want: []string{"--journal-retain", "out of range"}},
		{name: "retain not a number", file: "journal-retain: many", want: []string{"key journal-retain", "not a whole number"}},
		{name: "sync mode", env: map[string]string{"SOP_JOURNAL_SYNC": "sometimes"}, want: []string{"SOP_JOURNAL_SYNC", "always, interval"}},
		{name: "sync interval", args: []string{"--journal-sync-interval", "0s"}, want: []string{"--journal-sync-interval", "positive duration"}},
		{name: "checkpoint interval", file: "checkpoint-interval: soon", want: []string{"checkpoint-interval", "positive duration"}},
		{name: "page size", args: []string{"--page-size", "12KiB"}, want: []string{"--page-size", "power of two"}},
		{name: "page size range", args: []string{"--page-size", "1MiB"}, want: []string{"--page-size", "out of range"}},
		{name: "max key size", env: map[string]string{"SOP_MAX_KEY_SIZE": "8KiB"}, want: []string{"SOP_MAX_KEY_SIZE", "out of range"}},
		{name: "http", args: []string{"--http", "7070"}, want: []string{"--http", "host:port"}},
		{name: "http port", env: map[string]string{"SOP_HTTP": "127.0.0.1:http"}, want: []string{"SOP_HTTP", "port"}},
		{name: "nats listen", file: "nats-listen: nowhere", want: []string{"key nats-listen", "host:port"}},
		{name: "nats url", args: []string{"--nats-url", "10.0.0.1:4222"}, want: []string{"--nats-url", "nats://"}},
		{name: "nats url scheme", args: []string{"--nats-url", "http://10.0.0.1:4222"}, want: []string{"--nats-url", "scheme"}},
		{name: "node id", args: []string{"--node-id", "a b"}, want: []string{"--node-id", "node id"}},
		{name: "advertise no scheme", args: []string{"--advertise", "node1:7070"}, want: []string{"--advertise", "http:// or https://"}},
		{name: "advertise scheme", env: map[string]string{"SOP_ADVERTISE": "nats://node1:7070"}, want: []string{"SOP_ADVERTISE", "http:// or https://"}},
		{name: "advertise no host", file: "advertise: http://:7070", want: []string{"key advertise", "no host"}},
		{name: "advertise query", args: []string{"--advertise", "http://node1:7070/?x=1"}, want: []string{"--advertise", "query"}},
		{name: "advertise every interface", args: []string{"--advertise", "http://0.0.0.0:7070"}, want: []string{"--advertise", "every interface"}},
		{name: "pprof not loopback", args: []string{"--pprof", "0.0.0.0:6060"}, want: []string{"--pprof", "loopback"}},
		{name: "pprof address", env: map[string]string{"SOP_PPROF": "6060"}, want: []string{"SOP_PPROF", "host:port"}},
		{name: "log level", env: map[string]string{"SOP_LOG_LEVEL": "loud"}, want: []string{"SOP_LOG_LEVEL", "debug, info, warn, error"}},
		{name: "log format", args: []string{"--log-format", "xml"}, want: []string{"--log-format", "text, json"}},
		{name: "empty data", args: []string{"--data", ""}, want: []string{"--data", "empty"}},
		{name: "redis", env: map[string]string{"SOP_REDIS_URL": "http://10.0.0.2:6379"}, want: []string{"SOP_REDIS_URL", "redis://"}},
		{name: "lease ttl", args: []string{"--lease-ttl", "10ms"}, want: []string{"--lease-ttl", "300ms"}},
		{name: "journal replicas", args: []string{"--journal-replicas", "0"}, want: []string{"--journal-replicas", "out of range"}},
		{name: "journal replicas env", env: map[string]string{"SOP_JOURNAL_REPLICAS": "9"}, want: []string{"SOP_JOURNAL_REPLICAS", "out of range"}},
		{name: "passive data is data", args: []string{"--data", "/srv/sop", "--passive-data", "/srv/sop/"}, want: []string{"--passive-data", "another volume"}},
		{name: "cluster name", args: []string{"--cluster-name", " "}, want: []string{"--cluster-name", "empty"}},
		{name: "snapshot store kind", args: []string{"--snapshot-store", "s3"}, want: []string{"--snapshot-store", "dir, jetstream, cassandra"}},
		{name: "snapshot store kind env", env: map[string]string{"SOP_SNAPSHOT_STORE": "tape"}, want: []string{"SOP_SNAPSHOT_STORE", "not one of"}},
		{name: "snapshot keep", args: []string{"--snapshot-keep", "0"}, want: []string{"--snapshot-keep", "out of range"}},
		{name: "snapshot entries zero", env: map[string]string{"SOP_SNAPSHOT_ENTRIES": "0"}, want: []string{"SOP_SNAPSHOT_ENTRIES", "off"}},
		{name: "snapshot entries word", file: "snapshot-entries: many", want: []string{"key snapshot-entries", "not a whole number"}},
		{name: "snapshot interval", args: []string{"--snapshot-interval", "soon"}, want: []string{"--snapshot-interval", "not a duration"}},
		{name: "snapshot interval zero", file: "snapshot-interval: 0s", want: []string{"key snapshot-interval", "ambiguous"}},
		{name: "snapshot dir for jetstream", args: []string{"--snapshot-store", "jetstream", "--snapshot-dir", "/x"}, want: []string{"--snapshot-dir", "--snapshot-store \"jetstream\""}},
		{name: "cassandra without hosts", args: []string{"--snapshot-store", "cassandra"}, want: []string{"--snapshot-store \"cassandra\"", "--cassandra-hosts"}},
		{name: "cassandra blank hosts", env: map[string]string{"SOP_SNAPSHOT_STORE": "cassandra", "SOP_CASSANDRA_HOSTS": " , "}, want: []string{"SOP_SNAPSHOT_STORE", "--cassandra-hosts"}},
		{name: "cassandra flag for dir", args: []string{"--cassandra-hosts", "10.0.0.5"}, want: []string{"--cassandra-hosts", "--snapshot-store cassandra"}},
		{name: "cassandra env for dir", env: map[string]string{"SOP_CASSANDRA_CONSISTENCY": "one"}, want: []string{"SOP_CASSANDRA_CONSISTENCY", "--snapshot-store cassandra"}},
		{name: "replication no count", args: []string{"--snapshot-store", "cassandra", "--cassandra-hosts", "h", "--cassandra-replication", "dc1"}, want: []string{"--cassandra-replication", "DC:REPLICAS", "dc1:3,dc2:3"}},
		{name: "replication bad count", file: "snapshot-store: cassandra\ncassandra-hosts: h\ncassandra-replication: dc1:three\n", want: []string{"key cassandra-replication", "DC:REPLICAS"}},
		{name: "replication zero", args: []string{"--snapshot-store", "cassandra", "--cassandra-hosts", "h", "--cassandra-replication", "dc1:3,dc2:0"}, want: []string{"--cassandra-replication", "out of range"}},
		{name: "replication twice", args: []string{"--snapshot-store", "cassandra", "--cassandra-hosts", "h", "--cassandra-replication", "dc1:3,dc1:2"}, want: []string{"--cassandra-replication", "twice"}},
		{name: "replication without local dc", args: []string{"--snapshot-store", "cassandra", "--cassandra-hosts", "h", "--cassandra-replication", "dc1:3", "--cassandra-datacenter", "dc2"}, want: []string{"--cassandra-replication", "--cassandra-datacenter", "local data center"}},
		{name: "cassandra keyspace", args: []string{"--snapshot-store", "cassandra", "--cassandra-hosts", "h", "--cassandra-keyspace", "Sop-Snaps"}, want: []string{"--cassandra-keyspace", "lower-case"}},
		{name: "cassandra consistency", args: []string{"--snapshot-store", "cassandra", "--cassandra-hosts", "h", "--cassandra-consistency", "ANY"}, want: []string{"--cassandra-consistency", "LOCAL_QUORUM"}},
		{name: "cassandra user without password", args: []string{"--snapshot-store", "cassandra", "--cassandra-hosts", "h", "--cassandra-username", "sop"}, want: []string{"--cassandra-username", "--cassandra-password-file", "both"}},
		{name: "cassandra password file missing", args: []string{"--snapshot-store", "cassandra", "--cassandra-hosts", "h", "--cassandra-username", "sop", "--cassandra-password-file", "/nonexistent/pw"}, want: []string{"--cassandra-password-file", "no such file"}},
		{name: "cassandra schema for dir", file: "cassandra-create-schema: false\n", want: []string{"key cassandra-create-schema", "--snapshot-store cassandra"}},
		{name: "cassandra schema not bool", args: []string{"--snapshot-store", "cassandra", "--cassandra-hosts", "h", "--cassandra-create-schema=maybe"}, want: []string{"--cassandra-create-schema", "true or false"}},
		{name: "cassandra password flag", args: []string{"--cassandra-password", "x"}, want: []string{"unknown flag: --cassandra-password"}},
		{name: "auth tokens missing", args: []string{"--auth-tokens", "/nonexistent/tokens"}, want: []string{"--auth-tokens", "no such file"}},
		{name: "unknown keys", file: "data: x\ncolour: blue\nhttp_addr: y\n", want: []string{"unknown keys colour, http_addr"}},
		{name: "nested key", file: "nats:\n  url: nats://x:1\n", want: []string{"unknown keys nats.url"}},
		{name: "config key in file", file: "config: other.yaml\n", want: []string{"unknown keys config"}},
		{name: "list value", file: "data: [a, b]\n", want: []string{"key data", "single value"}},
		{name: "bad yaml", file: "data: [unclosed\n", want: []string{"does not parse as yaml"}},
		{name: "bad json", file: "c.json:{\"data\":", want: []string{"does not parse as json"}},
		{name: "unknown extension", file: "c.ini:data=x", want: []string{"extensions .yaml, .yml, .toml, .json"}},
		{name: "missing file", args: []string{"--config", "/nonexistent/sopd.yaml"}, want: []string{"--config", "/nonexistent/sopd.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				name, text := "sopd.yaml", tc.file
				if n, rest, ok := strings.Cut(tc.file, ":"); ok && strings.Contains(n, ".") {
					name, text = n, rest
				}
				args = append([]string{"--config", writeFile(t, name, text)}, args...)
			}
			_, err := loadServe(t, tc.env, args...)
			if err == nil {
				t.Fatalf("no error; want one mentioning %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestServeAdvertise: the URL a node announces is --advertise as given,
// else its scheme and listen address, with the hostname for a listener
// on every interface.
func TestServeAdvertise(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		listen string
		want   string
	}{
		{args: []string{"--advertise", "https://node1.example.com:7070/"}, listen: "127.0.0.1:7070", want: "https://node1.example.com:7070"},
		{args: []string{"--advertise", "http://10.0.0.7:7070/sop"}, listen: "0.0.0.0:7070", want: "http://10.0.0.7:7070/sop"},
		{listen: "127.0.0.1:7071", want: "http://127.0.0.1:7071"},
		{listen: "[::]:7072", want: "http://" + net.JoinHostPort(host, "7072")},
		{listen: "0.0.0.0:7073", want: "http://" + net.JoinHostPort(host, "7073")},
	} {
		c, err := loadServe(t, nil, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		addr, err := net.ResolveTCPAddr("tcp", tc.listen)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.advertiseURL(addr); got != tc.want {
			t.Errorf("%v listening on %s: advertises %q, want %q", tc.args, tc.listen, got, tc.want)
		}
	}
}

// TestServeSnapshotSettings: the snapshot and journal-retain settings
// from flags, the environment and the file reach sop.Options and the
// snapshot store.
func TestServeSnapshotSettings(t *testing.T) {
	file := writeFile(t, "sopd.yaml", "snapshot-keep: 7\nsnapshot-interval: 30m\njournal-retain: 500\n")
	c, err := loadServe(t, map[string]string{"SOP_SNAPSHOT_ENTRIES": "off", "SOP_SNAPSHOT_KEEP": "5"}, "--config", file, "--snapshot-store", "JetStream")
	if err != nil {
		t.Fatal(err)
	}
	o := c.dbOptions(nil)
	if o.JournalRetain != 500 || o.SnapshotKeep != 5 || o.SnapshotEntries >= 0 || o.SnapshotInterval != 30*time.Minute || !o.SnapshotsInJetStream {
		t.Errorf("sop.Options = %+v", o)
	}
	if c, err = loadServe(t, nil, "--snapshot-entries", "-7", "--snapshot-interval", "off"); err != nil || c.snapshotEntries != -1 || c.snapshotInterval >= 0 {
		t.Errorf("negative entries, interval off: %d %v %v", c.snapshotEntries, c.snapshotInterval, err)
	}

	// dir: the default location leaves sop its own default.
	data := t.TempDir()
	for _, dir := range []string{"", filepath.Join(data, "snapshots"), data + "/./snapshots/"} {
		c, err := loadServe(t, nil, "--data", data, "--snapshot-dir", dir)
		if err != nil {
			t.Fatal(err)
		}
		st, closeSt, err := c.snap.open(t.Context(), data, true)
		if err != nil || st != nil {
			t.Errorf("--snapshot-dir %q: store %v, %v; want sop's default", dir, st, err)
		}
		closeSt()
	}
	other := filepath.Join(t.TempDir(), "snaps")
	c, err = loadServe(t, map[string]string{"SOP_SNAPSHOT_DIR": other}, "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	if st, _, err := c.snap.open(t.Context(), data, true); err != nil || st == nil {
		t.Errorf("SOP_SNAPSHOT_DIR %s: store %v, %v", other, st, err)
	} else if _, err := os.Stat(other); err != nil {
		t.Errorf("the snapshot dir was not created: %v", err)
	}
}

func TestServeCassandraSettings(t *testing.T) {
	pw := writeFile(t, "pw", "s3cret pass\n")
	file := writeFile(t, "sopd.toml", `snapshot-store = "cassandra"
cassandra-hosts = "10.0.0.5, 10.0.0.6:9043"
cassandra-keyspace = "sop_snaps"
cassandra-datacenter = "dc1"
cassandra-replication = "dc1:3, dc2:2"
cassandra-conns = 4
`)
	env := map[string]string{"SOP_CASSANDRA_CONSISTENCY": "local_one", "SOP_CASSANDRA_PASSWORD_FILE": pw}
	c, err := loadServe(t, env, "--config", file, "--cassandra-timeout", "3s", "--cassandra-username", "sop")
	if err != nil {
		t.Fatal(err)
	}
	cc := c.snap.cassandraConfig(true)
	want := cassandra.Config{
		Hosts: []string{"10.0.0.5", "10.0.0.6:9043"}, Keyspace: "sop_snaps", Datacenter: "dc1",
		Replication: map[string]int{"dc1": 3, "dc2": 2}, Consistency: "LOCAL_ONE", NumConns: 4, Timeout: 3 * time.Second,
		Username: "sop", Password: "s3cret pass", CreateKeyspace: true,
	}
	if !reflect.DeepEqual(cc, want) {
		t.Errorf("cassandra.Config = %+v\nwant %+v", cc, want)
	}
	if o := c.dbOptions(nil); o.SnapshotsInJetStream || o.Snapshots != nil {
		t.Errorf("sop.Options for cassandra = %+v (the store is opened by serve)", o)
	}
	c, err = loadServe(t, nil, "--snapshot-store", "cassandra", "--cassandra-hosts", "h1", "--cassandra-create-schema=false")
	if err != nil || c.snap.cassandraConfig(true).CreateKeyspace {
		t.Errorf("--cassandra-create-schema=false: %+v, %v", c.snap, err)
	}
	// The defaults, with hosts only.
	c, err = loadServe(t, map[string]string{"SOP_SNAPSHOT_STORE": "cassandra", "SOP_CASSANDRA_HOSTS": "h1"})
	if err != nil {
		t.Fatal(err)
	}
	cc = c.snap.cassandraConfig(false)
	if cc.Keyspace != cassandra.DefaultKeyspace || cc.Consistency != cassandra.DefaultConsistency || cc.NumConns != cassandra.DefaultNumConns ||
		cc.Timeout != cassandra.DefaultTimeout || cc.Replication != nil || cc.Username != "" || cc.CreateKeyspace {
		t.Errorf("default cassandra.Config = %+v", cc)
	}
}

func TestServeNeedsAuthBeyondLoopback(t *testing.T) {
	tokens := writeFile(t, "tokens", "admin 0123456789abcdef0123\n")
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:7070", true},
		{"127.1.2.3:7070", true},
		{"[::1]:7070", true},
		{"localhost:7070", true},
		{"0.0.0.0:7070", false},
		{":7070", false},
		{"[::]:7070", false},
		{"10.1.2.3:7070", false},
		{"sop.example.com:7070", false},
	} {
		_, err := loadServe(t, nil, "--http", tc.addr)
		switch {
		case tc.ok && err != nil:
			t.Errorf("--http %s: %v", tc.addr, err)
		case !tc.ok && err == nil:
			t.Errorf("--http %s without auth: no error", tc.addr)
		case !tc.ok && (!strings.Contains(err.Error(), "--auth-tokens") || !strings.Contains(err.Error(), "--tls-cert")):
			t.Errorf("--http %s: %q does not say to give --auth-tokens and TLS", tc.addr, err)
		}
		if !tc.ok {
			if c, err := loadServe(t, nil, "--http", tc.addr, "--auth-tokens", tokens); err != nil || c.tokens == nil {
				t.Errorf("--http %s with --auth-tokens: %v", tc.addr, err)
			}
		}
	}
	_, err := loadServe(t, map[string]string{"SOP_HTTP": "0.0.0.0:7070"})
	if err == nil || !strings.Contains(err.Error(), "SOP_HTTP") {
		t.Errorf("SOP_HTTP beyond loopback: %v, want an error naming SOP_HTTP", err)
	}
}

func TestServeTLSPair(t *testing.T) {
	cert, key := selfSigned(t)
	for _, args := range [][]string{{"--tls-cert", cert}, {"--tls-key", key}} {
		_, err := loadServe(t, nil, args...)
		if err == nil || !strings.Contains(err.Error(), "--tls-cert") || !strings.Contains(err.Error(), "--tls-key") {
			t.Errorf("%v: %v, want an error naming both flags", args, err)
		}
	}
	if _, err := loadServe(t, nil, "--tls-cert", key, "--tls-key", cert); err == nil {
		t.Error("swapped TLS files: no error")
	}
	c, err := loadServe(t, map[string]string{"SOP_TLS_CERT": cert, "SOP_TLS_KEY": key})
	if err != nil || c.cert == nil {
		t.Fatalf("a good TLS pair from the environment: %v", err)
	}
	// TLS alone does not open a node to the network without tokens.
	if _, err := loadServe(t, nil, "--tls-cert", cert, "--tls-key", key, "--http", "0.0.0.0:7443"); err == nil || !strings.Contains(err.Error(), "--auth-tokens") {
		t.Errorf("TLS without tokens beyond loopback: %v", err)
	}
}

// selfSigned writes a self-signed certificate and its key.
func selfSigned(t *testing.T) (certPath, keyPath string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certPath = writeFile(t, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyPath = writeFile(t, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
	return certPath, keyPath
}

func TestSizeValue(t *testing.T) {
	var n int64
	v := &sizeValue{p: &n, min: 1, max: 1 << 40}
	for in, want := range map[string]int64{"4096": 4096, "4KiB": 4096, "64mib": 64 << 20, "1 GiB": 1 << 30, "10b": 10} {
		if err := v.Set(in); err != nil || n != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, n, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5MiB", "64MB", "9999999999GiB", "0"} {
		if err := v.Set(in); err == nil {
			t.Errorf("Set(%q) = %d, want an error", in, n)
		}
	}
	if s := formatSize(64 << 20); s != "64MiB" {
		t.Errorf("formatSize(64MiB) = %q", s)
	}
}

func TestRemoteSettings(t *testing.T) {
	newRemote := func(env map[string]string, args ...string) (*remote, error) {
		clearEnv(t)
		for k, v := range env {
			t.Setenv(k, v)
		}
		cmd := &cobra.Command{Use: "x"}
		r := addRemote(cmd)
		if err := cmd.Flags().Parse(args); err != nil {
			return nil, err
		}
		_, err := r.client()
		return r, err
	}
	r, err := newRemote(map[string]string{"SOP_ENDPOINT": "http://10.0.0.1:7070", "SOP_DOMAIN": "orders", "SOP_TIMEOUT": "3s"})
	if err != nil || r.endpoint != "http://10.0.0.1:7070" || r.domain != "orders" || r.timeout != 3*time.Second {
		t.Errorf("from the environment: %+v, %v", r, err)
	}
	r, err = newRemote(map[string]string{"SOP_ENDPOINT": "http://10.0.0.1:7070"}, "--endpoint", "http://10.0.0.2:7070")
	if err != nil || r.endpoint != "http://10.0.0.2:7070" {
		t.Errorf("flag over environment: %q, %v", r.endpoint, err)
	}
	tok := writeFile(t, "tok", "  secret-token-0123456789\n")
	if _, err := newRemote(map[string]string{"SOP_TOKEN": "x"}, "--token-file", tok); err == nil || !strings.Contains(err.Error(), "one way") {
		t.Errorf("token and token file: %v", err)
	}
	if _, err := newRemote(nil, "--token-file", writeFile(t, "empty", "\n")); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty token file: %v", err)
	}
	if _, err := newRemote(map[string]string{"SOP_ENDPOINT": "ftp://x"}); err == nil || !strings.Contains(err.Error(), "SOP_ENDPOINT") {
		t.Errorf("bad endpoint from the environment: %v", err)
	}
	if _, err := newRemote(map[string]string{"SOP_TIMEOUT": "soon"}); err == nil || !strings.Contains(err.Error(), "SOP_TIMEOUT") {
		t.Errorf("bad timeout from the environment: %v", err)
	}
	if _, err := newRemote(nil, "--cacert", tok); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a CA file without a certificate: %v", err)
	}
}
