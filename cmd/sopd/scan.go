package main

import (
	"fmt"

	"github.com/sopd/sop/client"
	"github.com/spf13/cobra"
)

func newScanCmd(st *streams) *cobra.Command {
	var (
		prefix, start, end string
		limit              = 100
		reverse, all       bool
	)
	cmd := &cobra.Command{
		Use:   "scan STORE",
		Short: "List items in key order",
		Long: `Print the items of STORE in key order, one JSON object per line
({"key":..,"value":..,"version":N}): those whose key starts with --prefix, from
--start (inclusive) to --end (exclusive), at most --limit of them (default 100),
or all of them with --all (following the server's cursors page by page).
--reverse lists in descending order.

In a store with an index, --prefix, --start and --end are JSON arrays of
leading field values, e.g. --prefix '["Smith"]'.`,
		Example: `  sopd scan accounts
  sopd scan accounts --prefix user/ --all
  sopd scan accounts --start b --end d --limit 10 --reverse
  sopd scan people --prefix '["Smith"]'`,
		Args: argsFor("STORE"),
	}
	r := addRemote(cmd)
	fs := cmd.Flags()
	fs.StringVar(&prefix, "prefix", "", "only keys that start with this")
	fs.StringVar(&start, "start", "", "the first key (inclusive)")
	fs.StringVar(&end, "end", "", "the key to stop before (exclusive)")
	fs.Var(&intValue{p: &limit, min: 1, max: 1 << 30}, "limit", "most items to print")
	boolFlag(fs, &reverse, "reverse", "descending key order")
	boolFlag(fs, &all, "all", "print every item (no --limit)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if all && cmd.Flags().Changed("limit") {
			return fmt.Errorf("--all and --limit: give one")
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		opts := client.ScanOptions{Reverse: reverse, Limit: limit}
		if all {
			opts.Limit = 0
		}
		if prefix != "" {
			opts.Prefix = client.StringKey(prefix)
		}
		if start != "" {
			opts.Start = client.StringKey(start)
		}
		if end != "" {
			opts.End = client.StringKey(end)
		}
		ctx, cancel := r.call(cmd.Context())
		defer cancel()
		for it, err := range c.Scan(ctx, r.domain, args[0], opts) {
			if err != nil {
				return r.explain(err)
			}
			if err := printJSON(st.out, it); err != nil {
				return err
			}
		}
		return nil
	}
	return cmd
}
