package faults

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sopd/sop/client"
	"github.com/sopd/sop/faults/check"
	"github.com/sopd/sop/journal"
)

// StreamWatcher watches domain default's change stream on one node from
// seq 1 for the whole run, across the node's restarts, failovers and
// cuts (the client reconnects with Last-Event-ID), and keeps every event
// it was given, for check.Stream.
type StreamWatcher struct {
	Node *Node

	mu     sync.Mutex
	events []check.Event
	err    error // what ended the watch early, if anything
	done   chan struct{}
}

// WatchStream starts a watcher on node; stop it with Stop.
func WatchStream(ctx context.Context, node *Node) *StreamWatcher {
	w := &StreamWatcher{Node: node, done: make(chan struct{})}
	go w.run(ctx)
	return w
}

func (w *StreamWatcher) run(ctx context.Context) {
	defer close(w.done)
	from := uint64(1)
	for ctx.Err() == nil {
		cw, err := w.Node.Client.Watch(ctx, "default", client.WatchOptions{From: from, IdleTimeout: 5 * time.Second})
		if err != nil {
			time.Sleep(100 * time.Millisecond) // the node is down: try again
			continue
		}
		for {
			ev, err := cw.Next(ctx)
			if err != nil {
				from = cw.Resume()
				cw.Close()
				if ctx.Err() == nil {
					w.mu.Lock()
					w.err = err
					w.mu.Unlock()
				}
				break
			}
			w.mu.Lock()
			w.events = append(w.events, check.Event{Seq: ev.Seq, Store: ev.Store, Key: ev.Key.String(), Kind: ev.Op})
			w.mu.Unlock()
		}
	}
}

// Events is what the watcher was given so far.
func (w *StreamWatcher) Events() []check.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]check.Event(nil), w.events...)
}

// Err is what ended a watch early (it then watched again from where it
// was), or nil.
func (w *StreamWatcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// LastSeq is the seq of the last event given.
func (w *StreamWatcher) LastSeq() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.events) == 0 {
		return 0
	}
	return w.events[len(w.events)-1].Seq
}

// JournalEvents is the change stream domain's journal defines from seq
// from on: every op of every entry (leader entries have none), as an
// event, in order. It is the ground truth check.Stream compares each
// watcher with; a run that truncates the journal reads the part it will
// purge first, and the rest at the end.
func JournalEvents(ctx context.Context, natsURL, domain string, from journal.Seq) ([]check.Event, error) {
	conn, err := journal.Dial(natsURL, journal.DialOptions{})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	j, err := conn.Open(ctx, domain, journal.StreamOptions{})
	if err != nil {
		return nil, err
	}
	first, last, err := j.Bounds(ctx)
	if err != nil {
		return nil, err
	}
	if from < first {
		return nil, fmt.Errorf("the journal of %s starts at %d, after %d: read the events before a purge", domain, first, from)
	}
	var out []check.Event
	for from <= last {
		recs, err := j.Read(ctx, from, 1000)
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			var e journal.Entry
			if err := e.UnmarshalBinary(r.Data); err != nil {
				return nil, fmt.Errorf("seq %d: %w", r.Seq, err)
			}
			for _, op := range e.Ops {
				ev := check.Event{Seq: uint64(r.Seq), Store: op.Store}
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
					return nil, fmt.Errorf("seq %d: op kind %v", r.Seq, op.Kind)
				}
				out = append(out, ev)
			}
			from = r.Seq + 1
		}
	}
	return out, nil
}

// StopStreams waits until every watcher was given events up to the last
// seq of want (or within passes), stops them, and checks each.
func StopStreams(cancel context.CancelFunc, ws []*StreamWatcher, want []check.Event, within time.Duration) []check.StreamResult {
	var last uint64
	if len(want) > 0 {
		last = want[len(want)-1].Seq
	}
	deadline := time.Now().Add(within)
	for _, w := range ws {
		for w.LastSeq() < last && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	cancel()
	var out []check.StreamResult
	for _, w := range ws {
		<-w.done
		out = append(out, check.Stream(w.Node.Name, w.Events(), want))
	}
	return out
}
