package main

import (
	"github.com/spf13/cobra"
)

func newSnapshotCmd(st *streams) *cobra.Command {
	var list bool
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Take a snapshot of the domain now, or list its snapshots",
		Long: `Ask the node to take a snapshot of the domain now, at the seq it has applied,
and print it: {"id","seq","bytes","created"}. The node stores it in its
snapshot store (its --snapshot-store), deletes all but the newest
--snapshot-keep, and truncates the domain's journal to its --journal-retain
entries before the snapshot (never past what the node has checkpointed).
Nodes take snapshots by themselves too (their --snapshot-entries and
--snapshot-interval); this takes one now, e.g. before maintenance.

With --list, print the domain's snapshots, newest first:
{"snapshots":[{"id","seq","bytes","created"}]}. An id is what sopd restore
--snapshot takes. Taking one needs an admin token on a node with
--auth-tokens; listing needs a read token.`,
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
