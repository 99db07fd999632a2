package faults

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sopd/sop/faults/check"
	"github.com/sopd/sop/journal"
)

// readJournal reads domain's journal on the NATS cluster at natsURL from
// seq from (0: its first) to its end, decoding each entry for fn. It
// fails when from was purged already.
func readJournal(ctx context.Context, natsURL, domain string, from journal.Seq, fn func(journal.Seq, *journal.Entry) error) error {
	conn, err := journal.Dial(natsURL, journal.DialOptions{})
	if err != nil {
		return err
	}
	defer conn.Close()
	j, err := conn.Open(ctx, domain, journal.StreamOptions{})
	if err != nil {
		return err
	}
	first, last, err := j.Bounds(ctx)
	if err != nil {
		return err
	}
	if from == 0 {
		from = first
	}
	if from < first {
		return fmt.Errorf("the journal of %s starts at %d, after %d: read the entries before a purge", domain, first, from)
	}
	for from <= last {
		recs, err := j.Read(ctx, from, 1000)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return nil
		}
		for _, r := range recs {
			var e journal.Entry
			if err := e.UnmarshalBinary(r.Data); err != nil {
				return fmt.Errorf("seq %d: %w", r.Seq, err)
			}
			if err := fn(r.Seq, &e); err != nil {
				return err
			}
			from = r.Seq + 1
		}
	}
	return nil
}

// CheckLeaderEntries reads domain's whole journal and checks the fence's
// promise: every entry was appended by the node whose leader entry (tx
// id lead/<node>/<token>) comes last before it, so no deposed leader's
// append landed after another took over, and no two nodes ever led at
// once in the journal. It returns how many leader entries there are.
func CheckLeaderEntries(ctx context.Context, natsURL, domain string) (int, error) {
	leader, leaders := "", 0
	var errs []error
	err := readJournal(ctx, natsURL, domain, 0, func(seq journal.Seq, e *journal.Entry) error {
		switch {
		case strings.HasPrefix(e.TxID, "lead/"):
			leader = e.Node
			leaders++
		case leader != "" && e.Node != leader && len(errs) < 10:
			errs = append(errs, fmt.Errorf("seq %d (%s) was appended by %s after %s's leader entry", seq, e.TxID, e.Node, leader))
		}
		return nil
	})
	if err != nil {
		return leaders, err
	}
	return leaders, errors.Join(errs...)
}

// JournalEvents is the change stream domain's journal defines from seq
// from on: every op of every entry (leader entries have none), as an
// event, in order. It is the ground truth check.Stream compares each
// watcher with; a run that truncates the journal reads the part it will
// purge first, and the rest at the end.
func JournalEvents(ctx context.Context, natsURL, domain string, from journal.Seq) ([]check.Event, error) {
	var out []check.Event
	err := readJournal(ctx, natsURL, domain, from, func(seq journal.Seq, e *journal.Entry) error {
		for _, op := range e.Ops {
			ev := check.Event{Seq: uint64(seq), Store: op.Store}
			switch op.Kind {
			case journal.OpPut:
				ev.Kind, ev.Key = "put", string(op.Key)
			case journal.OpDelete:
				ev.Kind, ev.Key = "delete", string(op.Key)
			case journal.OpCreateStore:
				ev.Kind = "create_store"
			case journal.OpDropStore:
				ev.Kind = "drop_store"
			default:
				return fmt.Errorf("seq %d: op kind %v", seq, op.Kind)
			}
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}
