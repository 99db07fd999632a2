package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

func newTxnCmd(st *streams) *cobra.Command {
	var file, idemKey string
	cmd := &cobra.Command{
		Use:   "txn",
		Short: "Commit a compare-and-set transaction",
		Long: `Commit a transaction on the domain, read as JSON from --file or standard
input, and print {"succeeded":bool,"seq":N}: if every compare holds, the
success ops commit, else the failure ops, atomically.

    {"compare": [{"store":"a","key":"k","version":7},
                 {"store":"a","key":"n","absent":true}],
     "success": [{"op":"put","store":"a","key":"k","value":{"x":1}},
                 {"op":"delete","store":"a","key":"old"}],
     "failure": []}

A compare sets one of "version" (the item is at that version), "absent" or
"present". A failed compare is not an error: "succeeded" is false.`,
		Example: `  sopd txn --file transfer.json
  echo '{"success":[{"op":"put","store":"a","key":"k","value":1}]}' | sopd txn`,
		Args: argsFor(),
	}
	r := addRemote(cmd)
	cmd.Flags().StringVarP(&file, "file", "f", "", "read the transaction from this file (default: standard input)")
	cmd.Flags().StringVar(&idemKey, "idempotency-key", "", "a unique id for this transaction, so that retrying it is safe")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := r.client()
		if err != nil {
			return err
		}
		var body []byte
		if file == "" || file == "-" {
			body, err = io.ReadAll(st.in)
		} else {
			body, err = os.ReadFile(file)
		}
		if err != nil {
			return fmt.Errorf("read the transaction: %w", err)
		}
		ctx, cancel := r.call(cmd.Context())
		defer cancel()
		res, err := c.TxnJSON(ctx, r.domain, body, idemKey)
		if err != nil {
			return r.explain(err)
		}
		return printJSON(st.out, res)
	}
	return cmd
}
