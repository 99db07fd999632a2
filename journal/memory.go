package journal

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Memory is an in-memory Journal for tests: the same contract as the
// JetStream journal, including fencing, dedupe within a window and
// compaction, with an injectable clock.
type Memory struct {
	opts MemoryOptions

	mu      sync.Mutex
	first   Seq      // first retained seq
	records []Record // seqs first .. first+len-1
	ids     map[string]seenID
	changed chan struct{} // closed and replaced on every append
}

type seenID struct {
	seq Seq
	at  time.Time
}

// MemoryOptions configure a Memory journal. The zero value is usable.
type MemoryOptions struct {
	DedupeWindow time.Duration    // default 2 minutes, like a JetStream stream
	MaxMsgSize   int              // default 1 MiB, like nats-server's max_payload
	Now          func() time.Time // default time.Now
}

var _ Journal = (*Memory)(nil)

// NewMemory returns an empty in-memory journal.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.DedupeWindow == 0 {
		opts.DedupeWindow = 2 * time.Minute
	}
	if opts.MaxMsgSize == 0 {
		opts.MaxMsgSize = 1 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Memory{opts: opts, first: 1, ids: map[string]seenID{}, changed: make(chan struct{})}
}

func (m *Memory) last() Seq { return m.first + Seq(len(m.records)) - 1 }

// Append implements Journal.
func (m *Memory) Append(ctx context.Context, expectLast Seq, msgs []Msg) (Seq, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	seen := map[string]bool{}
	for _, msg := range msgs {
		if len(msg.Data) > m.opts.MaxMsgSize {
			return 0, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(msg.Data), m.opts.MaxMsgSize)
		}
		if s, ok := m.ids[msg.ID]; ok && now.Sub(s.at) < m.opts.DedupeWindow {
			return 0, &DuplicateError{ID: msg.ID, Seq: s.seq}
		}
		if seen[msg.ID] {
			return 0, &DuplicateError{ID: msg.ID}
		}
		seen[msg.ID] = true
	}
	// Ids are checked before the fence, as JetStream does: a retried group
	// that was committed reports itself as a duplicate, with its seq.
	if last := m.last(); last != expectLast {
		return 0, &FencedError{Expected: expectLast, Last: last}
	}
	first := expectLast + 1
	for i, msg := range msgs {
		seq := first + Seq(i)
		m.records = append(m.records, Record{Seq: seq, ID: msg.ID, Data: slices.Clone(msg.Data)})
		m.ids[msg.ID] = seenID{seq, now}
	}
	if len(msgs) > 0 {
		close(m.changed)
		m.changed = make(chan struct{})
	}
	return first, nil
}

// Read implements Journal.
func (m *Memory) Read(ctx context.Context, from Seq, max int) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	recs, _, err := m.readLocked(from, max)
	return recs, err
}

func (m *Memory) readLocked(from Seq, max int) ([]Record, chan struct{}, error) {
	if from < m.first {
		return nil, nil, &CompactedError{Asked: from, First: m.first}
	}
	i := int(from - m.first)
	if i >= len(m.records) {
		return nil, m.changed, nil
	}
	out := make([]Record, 0, min(max, len(m.records)-i))
	for _, r := range m.records[i:min(i+max, len(m.records))] {
		r.Data = slices.Clone(r.Data)
		out = append(out, r)
	}
	return out, m.changed, nil
}

// Follow implements Journal.
func (m *Memory) Follow(ctx context.Context, from Seq, fn func(Record) error) error {
	for {
		m.mu.Lock()
		recs, changed, err := m.readLocked(from, 256)
		m.mu.Unlock()
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
			from = r.Seq + 1
		}
		if len(recs) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// Bounds implements Journal.
func (m *Memory) Bounds(ctx context.Context) (Seq, Seq, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.first, m.last(), nil
}

// Purge implements Journal.
func (m *Memory) Purge(ctx context.Context, below Seq) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if below <= m.first {
		return nil
	}
	n := min(int(below-m.first), len(m.records))
	m.records = slices.Delete(m.records, 0, n)
	m.first += Seq(n) // never past last+1: the fence stays where it was
	return nil
}

var _ Stager = (*Memory)(nil)

// Stage begins a staged group, kept in memory and appended whole at
// Commit (AppendStaged).
func (m *Memory) Stage(expectLast Seq) Staged { return AppendStaged(m, expectLast) }

// StageLimit is MaxBatch, as for the JetStream journal.
func (m *Memory) StageLimit() int { return MaxBatch }
