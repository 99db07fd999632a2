package journal_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sopd/sop/journal"
	"github.com/sopd/sop/journal/journaltest"
)

func TestMemoryConformance(t *testing.T) {
	journaltest.Run(t, journaltest.Config{
		Open:       func(*testing.T) journal.Journal { return journal.NewMemory(journal.MemoryOptions{}) },
		MaxMsgSize: 1 << 20,
	})
}

// TestMemoryDedupeWindow checks that an id may be reused once the dedupe
// window has passed, on an injected clock.
func TestMemoryDedupeWindow(t *testing.T) {
	now := time.Unix(1000, 0)
	j := journal.NewMemory(journal.MemoryOptions{DedupeWindow: time.Minute, Now: func() time.Time { return now }})
	m := []journal.Msg{{ID: "tx", Data: []byte("1")}}
	if _, err := j.Append(t.Context(), 0, m); err != nil {
		t.Fatal(err)
	}
	now = now.Add(59 * time.Second)
	var de *journal.DuplicateError
	if _, err := j.Append(t.Context(), 1, m); !errors.As(err, &de) || de.Seq != 1 {
		t.Fatalf("inside the window: %v", err)
	}
	now = now.Add(2 * time.Second)
	if first, err := j.Append(t.Context(), 1, m); err != nil || first != 2 {
		t.Fatalf("after the window: %d, %v", first, err)
	}
}
