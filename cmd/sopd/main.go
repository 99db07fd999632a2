// Command sopd is sop's daemon and command-line client: `sopd serve` runs
// a node; put, get, del, scan, txn, watch, status, snapshot, rebuild,
// store and domain talk to one over its HTTP API, verify compares several,
// ui serves the Web UI locally against a remote node, and restore
// replaces a stopped node's domain with a snapshot. `sopd --help`
// lists the commands, `sopd COMMAND --help` their flags; docs/OPERATIONS.md
// ("Running sopd") documents serve's flags, environment variables and
// config file.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit status: 0, or
// 1 after printing the error to stderr.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(&streams{in: stdin, out: stdout, err: stderr, stopSignals: stop})
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "sopd:", err)
		return 1
	}
	return 0
}
