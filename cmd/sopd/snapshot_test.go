package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sopd/sop"
	"github.com/sopd/sop/client"
	"github.com/spf13/pflag"
)

// sopd runs the command line in process and returns its exit status,
// standard output and standard error.
func sopd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// mustSopd runs the command line, expects success, and decodes standard
// output into v (when not nil).
func mustSopd(t *testing.T, v any, args ...string) string {
	t.Helper()
	code, out, errs := sopd(args...)
	if code != 0 {
		t.Fatalf("sopd %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("sopd %s printed %q: %v", strings.Join(args, " "), out, err)
		}
	}
	return errs
}

// putItems writes keys k0..k(n-1) of store s, creating it.
func putItems(t *testing.T, c *client.Client, n int) uint64 {
	t.Helper()
	ctx := t.Context()
	if _, err := c.CreateStore(ctx, "default", "s", nil); err != nil {
		t.Fatal(err)
	}
	var seq uint64
	for i := range n {
		var err error
		if seq, err = c.Put(ctx, "default", "s", client.StringKey(fmt.Sprintf("k%d", i)), json.RawMessage(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	return seq
}

func TestSnapshotCommand(t *testing.T) {
	clearEnv(t)
	c, url := inProcessNode(t)
	seq := putItems(t, c, 3)
	var snap client.Snapshot
	mustSopd(t, &snap, "snapshot", "--endpoint", url)
	if snap.Seq != seq || snap.ID == "" || snap.Bytes == 0 || snap.Created.IsZero() {
		t.Errorf("snapshot printed %+v, want one at seq %d", snap, seq)
	}
	var list struct{ Snapshots []client.Snapshot }
	mustSopd(t, &list, "snapshot", "--list", "--endpoint", url)
	if len(list.Snapshots) != 1 || list.Snapshots[0].ID != snap.ID || list.Snapshots[0].Seq != seq {
		t.Errorf("snapshot --list printed %+v, want %s", list, snap.ID)
	}
}

// TestRestoreCommand: snapshot a node, write on, stop it, lose its page
// file, restore the snapshot offline, and start again: the state is what
// it was at the stop (the snapshot, then the journal after it).
func TestRestoreCommand(t *testing.T) {
	clearEnv(t)
	data := filepath.Join(t.TempDir(), "data")
	c, url, stop := serveNode(t, sop.Options{Dir: data})
	putItems(t, c, 5)
	var snap client.Snapshot
	mustSopd(t, &snap, "snapshot", "--endpoint", url)
	ctx := t.Context()
	if _, err := c.Put(ctx, "default", "s", client.StringKey("after"), json.RawMessage(`"snapshot"`)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx, "default", "s", client.StringKey("k0")); err != nil {
		t.Fatal(err)
	}
	wantSeq, wantHash, err := c.Hash(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}

	code, out, errs := sopd("restore", "--data", data, "--snapshot", snap.ID)
	if code != 1 || out != "" || !strings.Contains(errs, "in use by another process") || !strings.Contains(errs, "stop the sopd serve") {
		t.Errorf("restore while the node runs: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	stop()
	if err := os.Remove(filepath.Join(data, "domains", "default", "pages")); err != nil {
		t.Fatal(err)
	}
	code, _, errs = sopd("restore", "--data", data, "--snapshot", "00000000000000000001-00000000")
	if code != 1 || !strings.Contains(errs, "snapshot --list") {
		t.Errorf("restore of an unknown snapshot: exit %d, %s", code, errs)
	}

	var restored struct {
		ID, Domain string
		Seq        uint64
		Bytes      int64
	}
	errs = mustSopd(t, &restored, "restore", "--data", data, "--snapshot", snap.ID)
	if restored.ID != snap.ID || restored.Domain != "default" || restored.Seq != snap.Seq || restored.Bytes != snap.Bytes {
		t.Errorf("restore printed %+v, want snapshot %+v", restored, snap)
	}
	if want := fmt.Sprintf("the next sopd serve replays the journal after seq %d", snap.Seq); !strings.Contains(errs, want) {
		t.Errorf("restore said %q, want %q", errs, want)
	}

	c, _, _ = serveNode(t, sop.Options{Dir: data})
	seq, sum, err := c.Hash(ctx, "default")
	if err != nil || seq != wantSeq || !bytes.Equal(sum, wantHash) {
		t.Errorf("after the restore: hash %x at %d (%v), want %x at %d", sum, seq, err, wantHash, wantSeq)
	}
	if it, err := c.Get(ctx, "default", "s", client.StringKey("after")); err != nil || string(it.Value) != `"snapshot"` {
		t.Errorf("get after = %+v, %v; the journal after the snapshot was not replayed", it, err)
	}
	if _, err := c.Get(ctx, "default", "s", client.StringKey("k0")); err == nil {
		t.Errorf("k0 deleted after the snapshot is back")
	}
}

// loadRestore parses args as restore's flags, with env set, and loads
// the configuration.
func loadRestore(t *testing.T, env map[string]string, args ...string) (*restoreConfig, error) {
	t.Helper()
	clearEnv(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	fs := pflag.NewFlagSet("restore", pflag.ContinueOnError)
	fs.SetOutput(&strings.Builder{})
	c := newRestoreConfig(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return c, c.load()
}

func TestRestoreSettings(t *testing.T) {
	const id = "00000000000000000042-0badcafe"
	data := t.TempDir()
	// A serve config file: restore takes its settings and ignores serve's others.
	file := writeFile(t, "sopd.yaml", fmt.Sprintf("data: %s\nhttp: 127.0.0.1:1\npage-size: 16KiB\nsnapshot-store: cassandra\ncassandra-hosts: h1,h2\ncassandra-keyspace: snaps\n", data))
	c, err := loadRestore(t, map[string]string{"SOP_DOMAIN": "orders"}, "--config", file, "--snapshot", id)
	if err != nil {
		t.Fatal(err)
	}
	if c.data != data || c.domain != "orders" || c.id != id || c.pageSize != 16<<10 || c.snap.kind != "cassandra" {
		t.Errorf("restore settings = %+v", c)
	}
	if cc := c.snap.cassandraConfig(false); len(cc.Hosts) != 2 || cc.Keyspace != "snaps" || cc.CreateKeyspace {
		t.Errorf("cassandra.Config = %+v", cc)
	}
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want []string
	}{
		{nil, []string{"--data", data}, []string{"--snapshot is missing", "snapshot --list"}},
		{nil, []string{"--data", data, "--snapshot", "latest"}, []string{"--snapshot \"latest\"", "20 decimal digits"}},
		{nil, []string{"--data", data, "--snapshot", id, "--domain", "a b"}, []string{"--domain \"a b\"", "domain"}},
		{nil, []string{"--data", filepath.Join(data, "nothere"), "--snapshot", id}, []string{"--data", "no data directory"}},
		{map[string]string{"SOP_SNAPSHOT_STORE": "jetstream"}, []string{"--data", data, "--snapshot", id}, []string{"SOP_SNAPSHOT_STORE", "restores the newest one by itself"}},
		{nil, []string{"--data", data, "--snapshot", id, "--snapshot-store", "cassandra"}, []string{"--cassandra-hosts"}},
		{nil, []string{"--config", writeFile(t, "bad.yaml", "colour: blue\n"), "--snapshot", id}, []string{"unknown keys colour"}},
	} {
		if _, err := loadRestore(t, tc.env, tc.args...); err == nil {
			t.Errorf("restore %v: no error, want %q", tc.args, tc.want)
		} else {
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("restore %v: error %q does not mention %q", tc.args, err, w)
				}
			}
		}
	}
}

// TestRebuildCommand: `sopd rebuild` wipes and rebuilds a domain online
// (from a snapshot and the journal after it) and prints the seq; the
// items are all there afterwards.
func TestRebuildCommand(t *testing.T) {
	clearEnv(t)
	c, url := inProcessNode(t)
	putItems(t, c, 5)
	var snap client.Snapshot
	mustSopd(t, &snap, "snapshot", "--endpoint", url)
	seq := putItems(t, c, 3)
	ctx := t.Context()
	bseq, before, err := c.Hash(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Seq uint64 }
	mustSopd(t, &out, "rebuild", "--endpoint", url)
	if out.Seq != seq {
		t.Fatalf("rebuild printed seq %d, want %d", out.Seq, seq)
	}
	aseq, after, err := c.Hash(ctx, "default")
	if err != nil || aseq != bseq || !bytes.Equal(after, before) {
		t.Fatalf("hash after the rebuild %x at %d (%v), before %x at %d", after, aseq, err, before, bseq)
	}
	if got := progressLine(client.Replay{AppliedSeq: 50, TargetSeq: 200, Rate: 10, ETASeconds: 15}); !strings.Contains(got, "[#######.......................]  25%  seq 50 of 200") || !strings.Contains(got, "eta 15s") {
		t.Fatalf("progress line %q", got)
	}
}
