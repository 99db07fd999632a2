package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// streams are a command's standard streams.
type streams struct {
	in  io.Reader
	out io.Writer
	err io.Writer
	// stopSignals stops catching SIGINT and SIGTERM, so that a second one
	// kills a process that is shutting down.
	stopSignals func()
}

func newRootCmd(st *streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "sopd",
		Short: "sop's daemon and command-line client",
		Long: `sopd runs a sop node (sopd serve) and talks to one over its HTTP API.

sop is an event-sourced persistence engine: ordered key/value stores with
serializable transactions; every commit is appended to a journal (NATS
JetStream) and projected into B-tree pages on disk.

The client commands print JSON answers (JSON lines for scan and watch) and
exit with status 1, printing the server's message, when a call fails. They
reach the node at --endpoint (SOP_ENDPOINT, default http://127.0.0.1:7070);
verify compares several nodes; sopd ui serves the Web UI on this machine
against a remote node. sopd restore works offline on a stopped node's data
directory.`,
		Example: `  sopd serve                                   # standalone node, data in ./data, HTTP on 127.0.0.1:7070
  sopd store create accounts
  sopd put accounts alice '{"balance":100}'
  sopd get accounts alice
  sopd scan accounts --prefix a
  sopd watch --store accounts`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(st.in)
	root.SetOut(st.out)
	root.SetErr(st.err)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w (see sopd %s --help)", err, cmd.Name())
	})
	root.AddCommand(
		newServeCmd(st),
		newPutCmd(st), newGetCmd(st), newDelCmd(st), newScanCmd(st), newTxnCmd(st),
		newWatchCmd(st), newStatusCmd(st), newSnapshotCmd(st), newVerifyCmd(st), newRestoreCmd(st), newRebuildCmd(st),
		newStoreCmd(st), newDomainCmd(st), newVersionCmd(st), newUICmd(st),
	)
	return root
}

// printJSON writes v as one line of JSON, without HTML escaping so values
// print as they are.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// argsFor checks that a command got its arguments, naming them.
func argsFor(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return fmt.Errorf("%s takes %d arguments (%s), got %d: see sopd %s --help", cmd.Name(), len(names), strings.Join(names, " "), len(args), cmd.Name())
		}
		return nil
	}
}
