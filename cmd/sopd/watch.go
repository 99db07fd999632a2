package main

import (
	"context"
	"errors"
	"time"

	"github.com/sopd/sop/client"
	"github.com/spf13/cobra"
)

func newWatchCmd(st *streams) *cobra.Command {
	var (
		from      uint64
		store     string
		prefix    string
		oldValues bool
		count     int
	)
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Follow the domain's changes",
		Long: `Print the domain's changes as they commit, one JSON object per line:
{"seq":N,"store":..,"key":..,"op":"put"|"delete"|"create_store"|"drop_store","value":..}.

--from N starts at seq N (the journal must still hold it, else 410
compacted); without it, at the changes committed from now on. --store and
--prefix filter; --old-values adds each change's previous value. A dropped
connection is resumed where it stopped, without a gap or a duplicate. Stop
with Ctrl-C, or after --count events. --timeout bounds only the connection.`,
		Example: `  sopd watch
  sopd watch --store accounts --prefix user/ --old-values
  sopd watch --from 1 --count 10`,
		Args: argsFor(),
	}
	r := addRemote(cmd)
	fs := cmd.Flags()
	fs.Var(&seqValue{&from}, "from", "first seq to print (default: changes from now on)")
	fs.StringVar(&store, "store", "", "only this store's changes")
	fs.StringVar(&prefix, "prefix", "", "only changes of keys that start with this")
	boolFlag(fs, &oldValues, "old-values", "add each change's previous value")
	fs.Var(&intValue{p: &count, min: 0, max: 1 << 62}, "count", "stop after this many events (default: never)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := r.client()
		if err != nil {
			return err
		}
		opts := client.WatchOptions{From: from, Store: store, OldValues: oldValues}
		if prefix != "" {
			opts.Prefix = client.StringKey(prefix)
		}
		// The watch lives as long as the command; --timeout bounds only
		// its first connection.
		ctx := cmd.Context()
		w, err := watch(ctx, c, r, opts)
		if err != nil {
			return r.explain(err)
		}
		defer w.Close()
		for n := 0; count == 0 || n < count; n++ {
			ev, err := w.Next(ctx)
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return nil // Ctrl-C
			}
			if err != nil {
				return r.explain(err)
			}
			if err := printJSON(st.out, ev); err != nil {
				return err
			}
		}
		return nil
	}
	return cmd
}

// watch starts a watch that lasts as long as ctx, giving up on its first
// connection after --timeout.
func watch(ctx context.Context, c *client.Client, r *remote, opts client.WatchOptions) (*client.Watcher, error) {
	if r.timeout == 0 {
		return c.Watch(ctx, r.domain, opts)
	}
	wctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(r.timeout, cancel)
	w, err := c.Watch(wctx, r.domain, opts)
	if !timer.Stop() {
		if w != nil {
			w.Close()
		}
		return nil, context.DeadlineExceeded
	}
	if err != nil {
		cancel()
		return nil, err
	}
	return w, nil
}
