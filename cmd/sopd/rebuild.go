package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sopd/sop/client"
	"github.com/spf13/cobra"
)

func newRebuildCmd(st *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rebuild",
		Short: "Wipe a node's local state of a domain and rebuild it from snapshot and journal",
		Long: `Ask the node to wipe its local state of the domain (page file and checkpoint) and
build it again, online: it restores the newest snapshot by bulk load, checks its state
hash, and replays the journal after it (or replays the whole journal when it still
starts at seq 1). Meanwhile the domain answers 503 and the command draws the replay's
progress on stderr; at the end it prints {"seq":N}, the seq the rebuilt domain has
applied. Use it when a node's state is suspect (sopd verify disagrees) or its disk was
replaced. --timeout bounds the whole rebuild.`,
		Example: `  sopd rebuild
  sopd rebuild --domain orders --timeout 1h`,
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
		done := make(chan struct{})
		progressDone := make(chan struct{})
		go func() {
			defer close(progressDone)
			drawProgress(ctx, c, r.domain, st.err, done)
		}()
		seq, err := c.Rebuild(ctx, r.domain)
		close(done)
		<-progressDone
		if err != nil {
			return r.explain(err)
		}
		return printJSON(st.out, map[string]uint64{"seq": seq})
	}
	return cmd
}

// drawProgress polls the node's status every half second until done and
// draws the domain's replay progress as a bar on w.
func drawProgress(ctx context.Context, c *client.Client, domain string, w io.Writer, done <-chan struct{}) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	drawn := false
	for {
		select {
		case <-done:
			if drawn {
				fmt.Fprintln(w)
			}
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		s, err := c.Status(sctx)
		cancel()
		if err != nil {
			continue
		}
		for _, d := range s.Domains {
			if d.Name == domain && d.Replay != nil {
				fmt.Fprintf(w, "\r%s", progressLine(*d.Replay))
				drawn = true
			}
		}
	}
}

// progressLine renders a replay's progress as a 30-character bar with
// figures.
func progressLine(p client.Replay) string {
	const width = 30
	frac := 1.0
	if p.TargetSeq > 0 {
		frac = min(1, float64(p.AppliedSeq)/float64(p.TargetSeq))
	}
	n := int(frac * width)
	return fmt.Sprintf("[%s%s] %3.0f%%  seq %d of %d  %.0f entries/s  eta %v   ",
		strings.Repeat("#", n), strings.Repeat(".", width-n), 100*frac,
		p.AppliedSeq, p.TargetSeq, p.Rate, time.Duration(p.ETASeconds)*time.Second)
}
