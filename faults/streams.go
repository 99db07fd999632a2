package faults

import (
	"context"
	"sync"
	"time"

	"github.com/sopd/sop/client"
	"github.com/sopd/sop/faults/check"
)

// StreamWatcher watches domain default's change stream on one node from
// seq 1 for the whole run, across the node's restarts, failovers and
// cuts (the client reconnects with Last-Event-ID), and keeps every event
// it was given, for check.Stream.
type StreamWatcher struct {
	Node *Node

	mu     sync.Mutex
	events []check.Event
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
				// Watch again from where it ended: an early end shows as a
				// gap in the stream check if anything was lost.
				from = cw.Resume()
				cw.Close()
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

// LastSeq is the seq of the last event given.
func (w *StreamWatcher) LastSeq() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.events) == 0 {
		return 0
	}
	return w.events[len(w.events)-1].Seq
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
