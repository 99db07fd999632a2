package main

import (
	"github.com/sopd/sop/client"
	"github.com/spf13/cobra"
)

func newGetCmd(st *streams) *cobra.Command {
	var (
		minSeq       uint64
		linearizable bool
	)
	cmd := &cobra.Command{
		Use:   "get STORE KEY",
		Short: "Read an item",
		Long: `Read the item at KEY in STORE and print {"key":..,"value":..,"version":N}.
An absent item is an error (404 key_not_found, exit status 1).

--min-seq N first waits until the node has applied seq N (for example the seq
a put printed), so the read sees that write even on another node.
--linearizable first learns the journal's last seq and waits for it: the read
sees every write acknowledged before it began.

In a store with an index, KEY is the JSON array of the indexed fields' values.`,
		Example: `  sopd get accounts alice
  sopd get accounts alice --min-seq 42
  sopd get people '["Smith",42]' --linearizable`,
		Args: argsFor("STORE", "KEY"),
	}
	r := addRemote(cmd)
	cmd.Flags().Var(&seqValue{&minSeq}, "min-seq", "wait until the node has applied this seq")
	boolFlag(cmd.Flags(), &linearizable, "linearizable", "wait until the node has applied the journal's last seq")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := r.client()
		if err != nil {
			return err
		}
		ctx, cancel := r.call(cmd.Context())
		defer cancel()
		it, err := c.Get(ctx, r.domain, args[0], client.StringKey(args[1]), client.GetOptions{MinSeq: minSeq, Linearizable: linearizable})
		if err != nil {
			return r.explain(err)
		}
		return printJSON(st.out, it)
	}
	return cmd
}
