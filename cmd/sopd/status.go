package main

import (
	"github.com/spf13/cobra"
)

func newStatusCmd(st *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the node and its domains",
		Long: `Print the node's id and version and, for each domain, its role (leader or
follower), the seq this node has applied, and the journal's first and last
seq: {"node":..,"version":..,"domains":[{"name","role","applied_seq",
"journal_first_seq","journal_last_seq"}]}.`,
		Example: `  sopd status
  sopd status --endpoint https://sop.example.com:7070 --token-file ~/.sop-token`,
		Args: argsFor(),
	}
	r := addRemote(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := r.client()
		if err != nil {
			return err
		}
		ctx, cancel := r.call(cmd.Context())
		defer cancel()
		s, err := c.Status(ctx)
		if err != nil {
			return r.explain(err)
		}
		return printJSON(st.out, s)
	}
	return cmd
}
