package cassandra

import (
	"bytes"
	"context"
	"sync"
	"time"
)

// memTables is tables in memory, with the conditions of the CQL
// statements, for testing the Store's protocol without a server.
type memTables struct {
	mu     sync.Mutex
	rows   map[key]row
	chunks map[chunkKey][]byte
	// fault, when set, runs before every operation with its name and
	// chunk number (the reserved value for reserve and markDeleting, else
	// 0). An error fails the operation; with applied set the operation
	// applies first, as a write whose acknowledgement was lost.
	fault func(op string, n int) (applied bool, err error)
}

type chunkKey struct {
	key
	n int
}

func newMemTables() *memTables {
	return &memTables{rows: map[key]row{}, chunks: map[chunkKey][]byte{}}
}

var _ tables = (*memTables)(nil)

// do runs one operation under the lock, with its fault.
func (m *memTables) do(ctx context.Context, op string, n int, f func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	fault := m.fault
	m.mu.Unlock()
	var err error
	after := false
	if fault != nil {
		after, err = fault(op, n)
	}
	if err != nil && !after {
		return err
	}
	m.mu.Lock()
	f()
	m.mu.Unlock()
	return err
}

func (m *memTables) begin(ctx context.Context, k key, seq uint64, now time.Time) (applied bool, err error) {
	err = m.do(ctx, "begin", 0, func() {
		if _, ok := m.rows[k]; !ok {
			m.rows[k] = row{id: k.id, seq: seq, updated: now}
			applied = true
		}
	})
	return applied, err
}

func (m *memTables) reserve(ctx context.Context, k key, reserved int, now time.Time) (applied bool, err error) {
	err = m.do(ctx, "reserve", reserved, func() {
		r, ok := m.rows[k]
		if ok && !r.complete && !r.deleting {
			r.reserved, r.updated = reserved, now
			m.rows[k] = r
			applied = true
		}
	})
	return applied, err
}

func (m *memTables) finish(ctx context.Context, k key, f row) (applied bool, err error) {
	err = m.do(ctx, "finish", 0, func() {
		r, ok := m.rows[k]
		if ok && !r.complete && !r.deleting {
			r.complete, r.bytes, r.chunks, r.digest, r.created, r.updated = true, f.bytes, f.chunks, f.digest, f.created, f.updated
			m.rows[k] = r
			applied = true
		}
	})
	return applied, err
}

func (m *memTables) markDeleting(ctx context.Context, k key, w when, reserved int, now time.Time) (applied bool, err error) {
	err = m.do(ctx, "markDeleting", reserved, func() {
		r, ok := m.rows[k]
		if ok && r.complete == w.complete && (w.updated.IsZero() || r.updated.Equal(w.updated)) {
			r.complete, r.deleting, r.reserved, r.updated = false, true, reserved, now
			m.rows[k] = r
			applied = true
		}
	})
	return applied, err
}

func (m *memTables) drop(ctx context.Context, k key) (applied bool, err error) {
	err = m.do(ctx, "drop", 0, func() {
		if r, ok := m.rows[k]; ok && r.deleting {
			delete(m.rows, k)
			applied = true
		}
	})
	return applied, err
}

func (m *memTables) get(ctx context.Context, k key, serial bool) (r row, found bool, err error) {
	err = m.do(ctx, "get", 0, func() { r, found = m.rows[k] })
	if err != nil {
		return row{}, false, err
	}
	r.digest = bytes.Clone(r.digest)
	return r, found, nil
}

func (m *memTables) list(ctx context.Context, domain string) (rows []row, err error) {
	err = m.do(ctx, "list", 0, func() {
		for k, r := range m.rows {
			if k.domain == domain {
				r.digest = bytes.Clone(r.digest)
				rows = append(rows, r)
			}
		}
	})
	return rows, err
}

func (m *memTables) putChunk(ctx context.Context, k key, n int, data []byte) error {
	return m.do(ctx, "putChunk", n, func() { m.chunks[chunkKey{k, n}] = bytes.Clone(data) })
}

func (m *memTables) getChunk(ctx context.Context, k key, n int) (data []byte, found bool, err error) {
	err = m.do(ctx, "getChunk", n, func() {
		var d []byte
		d, found = m.chunks[chunkKey{k, n}]
		data = bytes.Clone(d)
	})
	return data, found, err
}

func (m *memTables) deleteChunk(ctx context.Context, k key, n int) error {
	return m.do(ctx, "deleteChunk", n, func() { delete(m.chunks, chunkKey{k, n}) })
}

func (m *memTables) setFault(f func(op string, n int) (bool, error)) {
	m.mu.Lock()
	m.fault = f
	m.mu.Unlock()
}

// counts returns how many rows and chunks the tables hold.
func (m *memTables) counts() (rows, chunks int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rows), len(m.chunks)
}
