package main

import (
	"github.com/sopd/sop/client"
	"github.com/spf13/cobra"
)

func newDelCmd(st *streams) *cobra.Command {
	var (
		ifVersion uint64
		idemKey   string
	)
	cmd := &cobra.Command{
		Use:   "del STORE KEY",
		Short: "Delete an item",
		Long: `Delete the item at KEY in STORE and print {"seq":N}. Deleting an absent item
is not an error.

--if-version V deletes only if the item is at version V (otherwise 409
condition_failed and nothing is deleted).`,
		Example: `  sopd del accounts alice
  sopd del accounts alice --if-version 7
  sopd del people '["Smith",42]'`,
		Args: argsFor("STORE", "KEY"),
	}
	r := addRemote(cmd)
	cmd.Flags().Var(&seqValue{&ifVersion}, "if-version", "delete only if the item is at this version")
	cmd.Flags().StringVar(&idemKey, "idempotency-key", "", "a unique id for this delete, so that retrying it is safe")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := r.client()
		if err != nil {
			return err
		}
		ctx, cancel := r.call(cmd.Context())
		defer cancel()
		seq, err := c.Delete(ctx, r.domain, args[0], client.StringKey(args[1]), client.DeleteOptions{IfVersion: ifVersion, IdempotencyKey: idemKey})
		if err != nil {
			return r.explain(err)
		}
		return printJSON(st.out, seqAnswer{seq})
	}
	return cmd
}
