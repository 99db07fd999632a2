package main

import (
	"github.com/spf13/cobra"
)

func newSnapshotCmd(st *streams) *cobra.Command {
	var list bool
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Take a snapshot of the domain now, or list its snapshots",
		Long: `Ask the node to take a snapshot of the domain now (and truncate its journal
per the node's --journal-retain) and print the server's answer {"seq":N,"id":..};
with --list, print the domain's snapshots.

Snapshots are not built yet: the node answers 501 not_implemented.`,
		Example: `  sopd snapshot
  sopd snapshot --list --domain orders`,
		Args: argsFor(),
	}
	r := addRemote(cmd)
	boolFlag(cmd.Flags(), &list, "list", "list the snapshots instead of taking one")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := r.client()
		if err != nil {
			return err
		}
		ctx, cancel := r.call(cmd.Context())
		defer cancel()
		if list {
			snaps, err := c.Snapshots(ctx, r.domain)
			if err != nil {
				return r.explain(err)
			}
			return printJSON(st.out, map[string]any{"snapshots": snaps})
		}
		snap, err := c.TakeSnapshot(ctx, r.domain)
		if err != nil {
			return r.explain(err)
		}
		return printJSON(st.out, snap)
	}
	return cmd
}
