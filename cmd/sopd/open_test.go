package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sopd/sop/faults"

	"github.com/sopd/sop"
	"github.com/sopd/sop/journal"
)

// TestOpenWaitsForTheJournal: serve opens the node again while NATS cannot
// be reached (a cluster restarting), instead of exiting at the first try.
func TestOpenWaitsForTheJournal(t *testing.T) {
	addr := faults.FreeAddr(t)
	started := make(chan *journal.Server, 1)
	go func() {
		time.Sleep(1500 * time.Millisecond)
		srv, err := journal.StartServer(journal.ServerOptions{Dir: t.TempDir(), Listen: addr})
		if err != nil {
			t.Error(err)
		}
		started <- srv
	}()
	var logs bytes.Buffer
	db, err := openRetrying(context.Background(), sop.Options{Dir: t.TempDir(), NATSURL: "nats://" + addr}, slog.New(slog.NewTextHandler(&logs, nil)))
	srv := <-started
	if srv != nil {
		defer srv.Shutdown()
	}
	if err != nil {
		t.Fatalf("open while NATS starts: %v", err)
	}
	db.Close()
	if !strings.Contains(logs.String(), "cannot reach the journal yet") {
		t.Fatalf("no retry was logged:\n%s", logs.String())
	}
}
