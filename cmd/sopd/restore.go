package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/sopd/sop"
	"github.com/sopd/sop/snapshot"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// restoreConfig is what `sopd restore` is told.
type restoreConfig struct {
	config   string
	data     string
	domain   string
	id       string
	pageSize int64
	snap     snapStoreConfig

	s *settings
}

func (c *restoreConfig) flags() []serveFlag {
	str := func(p *string) pflag.Value { return (*stringValue)(p) }
	list := []serveFlag{
		{"snapshot", "SOP_SNAPSHOT", "the snapshot to restore: its id, as sopd snapshot --list prints it", str(&c.id)},
		{"data", "SOP_DATA", "the data directory of the stopped node", str(&c.data)},
		{"domain", "SOP_DOMAIN", "the domain to restore", str(&c.domain)},
		{"page-size", "SOP_PAGE_SIZE", "B-tree page size of the restored page file: the node's --page-size; 0: 8KiB", &sizeValue{p: &c.pageSize, min: 4 << 10, max: 64 << 10, zero: true}},
	}
	for _, f := range c.snap.flags() {
		switch f.name {
		case "cassandra-create-schema", "cassandra-replication": // restore creates nothing
			continue
		case "snapshot-store":
			f.usage = "where the snapshots are: dir (--snapshot-dir) or cassandra (--cassandra-*); restore cannot read jetstream"
			f.value = &choiceValue{p: &c.snap.kind, choices: snapStoreKinds, typ: "dir|cassandra"}
		}
		list = append(list, f)
	}
	return append(list, serveFlag{"config", "SOP_CONFIG", "the node's config file (sopd serve --config): restore takes the settings above from it and ignores the others", str(&c.config)})
}

func newRestoreConfig(fs *pflag.FlagSet) *restoreConfig {
	c := &restoreConfig{data: "./data", domain: "default", snap: newSnapStoreConfig()}
	fs.SortFlags = false
	c.s = newSettings(fs)
	for _, f := range c.flags() {
		defineFlag(fs, f)
		c.s.bind(f.name, f.env)
	}
	// A serve config file holds serve's other settings too.
	c.s.also = map[string]bool{}
	for _, f := range newServeConfig(pflag.NewFlagSet("serve", pflag.ContinueOnError)).flags() {
		c.s.also[f.name] = true
	}
	return c
}

// load merges the environment and the config file into the flags and
// checks the result.
func (c *restoreConfig) load() error {
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
	src := c.s.source
	switch {
	case c.id == "":
		return errors.New("--snapshot is missing: name the snapshot to restore (sopd snapshot --list --domain D prints the ids)")
	case strings.TrimSpace(c.data) == "":
		return fmt.Errorf("%s: the data directory is empty: name the node's, e.g. --data ./data", src("data"))
	case c.pageSize&(c.pageSize-1) != 0:
		return fmt.Errorf("%s: a page size is a power of two: 4KiB, 8KiB, 16KiB, 32KiB or 64KiB", src("page-size"))
	case c.snap.kind == "jetstream":
		return fmt.Errorf("%s: restore reads snapshots from a directory or Cassandra only. A node keeping its snapshots in JetStream restores the newest one by itself when it starts and finds the journal truncated past its state", src("snapshot-store"))
	}
	if c.snap.kind == "dir" && c.snap.dir == "" {
		if _, err := os.Stat(c.data); err != nil {
			return fmt.Errorf("%s: no data directory there (%w): name the node's, whose DATA/snapshots holds the snapshot", src("data"), err)
		}
	}
	if err := snapshot.CheckID(c.domain, c.id); err != nil {
		return fmt.Errorf("%s, %s: %w", src("domain"), src("snapshot"), err)
	}
	return c.snap.check(c.s)
}

func newRestoreCmd(st *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "restore --snapshot ID",
		Short: "Restore a domain of a stopped node from a snapshot",
		Long: `Replace one domain's local state (page file and checkpoint) in the data
directory of a stopped node with a snapshot, offline. The next sopd serve on
that directory replays the journal after the snapshot's seq, so the domain
comes back at the journal's newest state: restoring repairs a damaged page
file; it does not roll the domain back.

The node must be stopped: restore takes the data directory's lock and fails
while another process holds it. A domain the node did not have is created
locally.

Snapshots are read from --snapshot-store dir (--snapshot-dir, by default
DATA/snapshots) or cassandra (the --cassandra-* flags, as for serve). Give
the node's --config to take its settings from there.

It prints the restored snapshot as JSON ({"id","domain","seq","bytes",
"created"}) on standard output, and on standard error the seq the next
sopd serve replays the journal after.`,
		Example: `  sopd snapshot --list                               # while the node runs: the ids
  sopd restore --data /var/lib/sop --snapshot 00000000000000012345-9f3a0c1b
  sopd restore --config /etc/sop/sopd.yaml --domain orders --snapshot 00000000000000012345-9f3a0c1b`,
		Args: argsFor(),
	}
	cfg := newRestoreConfig(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := cfg.load(); err != nil {
			return err
		}
		return restore(cmd.Context(), cfg, st)
	}
	return cmd
}

// restoredJSON is the restored snapshot, as printed.
type restoredJSON struct {
	ID      string    `json:"id"`
	Domain  string    `json:"domain"`
	Seq     uint64    `json:"seq"`
	Bytes   int64     `json:"bytes"`
	Created time.Time `json:"created"`
}

func restore(ctx context.Context, cfg *restoreConfig, st *streams) error {
	snaps, closeSnaps, err := cfg.snap.open(ctx, cfg.data, false)
	if err != nil {
		return err
	}
	defer closeSnaps()
	log := slog.New(slog.NewTextHandler(st.err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := sop.Options{Dir: cfg.data, PageSize: int(cfg.pageSize), Snapshots: snaps, Logger: log}
	m, err := sop.Restore(ctx, opts, cfg.domain, cfg.id)
	if err != nil {
		return explainRestore(err, cfg)
	}
	if err := printJSON(st.out, restoredJSON{m.ID, m.Domain, m.Seq, m.Bytes, m.Created.UTC()}); err != nil {
		return err
	}
	fmt.Fprintf(st.err, "restored domain %s of %s to snapshot %s at seq %d: the next sopd serve replays the journal after seq %d\n",
		cfg.domain, cfg.data, m.ID, m.Seq, m.Seq)
	return nil
}

// explainRestore adds what to do to the errors an operator can fix.
func explainRestore(err error, cfg *restoreConfig) error {
	switch {
	case strings.Contains(err.Error(), "in use by another process"):
		return fmt.Errorf("restore into %s: %w: stop the sopd serve using this data directory first (restore works offline)", cfg.data, err)
	case errors.Is(err, snapshot.ErrNotFound):
		return fmt.Errorf("restore: %w: sopd snapshot --list --domain %s on a running node prints the ids; check --snapshot-store and its location", err, cfg.domain)
	}
	return fmt.Errorf("restore domain %s in %s: %w", cfg.domain, cfg.data, err)
}
