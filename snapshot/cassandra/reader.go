package cassandra

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/sopd/sop/snapshot"
)

// reader fetches a snapshot's chunks one at a time, as it is read.
type reader struct {
	ctx    context.Context
	s      *Store
	k      key
	r      row // the complete manifest row
	n      int // the next chunk to fetch
	buf    []byte
	size   int64
	digest hash.Hash
	err    error // sticky: io.EOF at the end
}

func (s *Store) newReader(ctx context.Context, k key, r row) *reader {
	return &reader{ctx: ctx, s: s, k: k, r: r, digest: sha256.New()}
}

func (rd *reader) Read(p []byte) (int, error) {
	for len(rd.buf) == 0 {
		if rd.err != nil {
			return 0, rd.err
		}
		rd.err = rd.next()
	}
	n := copy(p, rd.buf)
	rd.buf = rd.buf[n:]
	return n, nil
}

// next fetches the next chunk into rd.buf, or checks the whole snapshot
// once all chunks are in: io.EOF when it is intact.
func (rd *reader) next() error {
	if rd.n == rd.r.chunks {
		return rd.check()
	}
	if err := rd.ctx.Err(); err != nil {
		return rd.s.errorf("read", rd.k, err)
	}
	data, found, err := rd.s.t.getChunk(rd.ctx, rd.k, rd.n)
	switch {
	case err != nil:
		return rd.s.errorf("read", rd.k, fmt.Errorf("chunk %d of %d: %w", rd.n, rd.r.chunks, err))
	case !found:
		return rd.missing()
	case len(data) == 0:
		return rd.corrupt("chunk %d of %d is empty", rd.n, rd.r.chunks)
	}
	rd.n++
	rd.size += int64(len(data))
	if rd.size > rd.r.bytes {
		return rd.corrupt("chunks hold more than its size %d", rd.r.bytes)
	}
	rd.digest.Write(data)
	rd.buf = data
	return nil
}

// missing explains a chunk that is not there: the snapshot was deleted
// while being read (snapshot.ErrNotFound), or it is damaged.
func (rd *reader) missing() error {
	r, found, err := rd.s.t.get(rd.ctx, rd.k, false)
	if err == nil && (!found || !r.complete) {
		return rd.s.errorf("read", rd.k, fmt.Errorf("%w: deleted while being read", snapshot.ErrNotFound))
	}
	return rd.corrupt("chunk %d of %d is missing", rd.n, rd.r.chunks)
}

func (rd *reader) check() error {
	if rd.size != rd.r.bytes {
		return rd.corrupt("chunks hold %d bytes, its size is %d", rd.size, rd.r.bytes)
	}
	if !bytes.Equal(rd.digest.Sum(nil), rd.r.digest) {
		return rd.corrupt("SHA-256 digest mismatch")
	}
	return io.EOF
}

func (rd *reader) corrupt(format string, args ...any) error {
	return rd.s.errorf("read", rd.k, fmt.Errorf("%w: "+format, append([]any{snapshot.ErrCorrupt}, args...)...))
}

// Close releases nothing (each chunk is its own request); reads after it
// fail with os.ErrClosed.
func (rd *reader) Close() error {
	rd.buf = nil
	rd.err = rd.s.errorf("read", rd.k, os.ErrClosed)
	return nil
}
