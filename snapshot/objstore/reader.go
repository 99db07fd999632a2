package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sopd/sop/snapshot"
)

const (
	// prefetch is how many chunks (of 128 KiB) the reader's consumer
	// buffers ahead of the caller.
	prefetch = 8
	// chunkWait bounds the wait for one chunk. The object's info promised
	// it, so a chunk that does not come was deleted while being read or the
	// stream is unavailable; either way the read fails rather than hang.
	chunkWait = 30 * time.Second
	// consumerIdle is how long the server keeps the reader's consumer
	// after the last request: Close leaves its removal to the server.
	consumerIdle = time.Minute
)

// reader streams an object's chunks through an ordered consumer, which the
// stream leader serves, so every chunk the info names is there to read. The
// object store's own Get is not used: with a context that has no deadline
// it gives the whole download the JetStream API timeout (5 s by default).
type reader struct {
	ctx    context.Context
	info   *jetstream.ObjectInfo
	where  string                    // "snapshot <name> in bucket <bucket>", for errors
	msgs   jetstream.MessagesContext // nil for an empty object
	buf    []byte                    // the unread rest of the current chunk
	chunks uint32                    // chunks received
	size   uint64                    // bytes received
	digest hash.Hash
	err    error // sticky: io.EOF at the end
}

func (s *Store) newReader(ctx context.Context, info *jetstream.ObjectInfo) (*reader, error) {
	r := &reader{
		ctx:    ctx,
		info:   info,
		where:  fmt.Sprintf("snapshot %s in bucket %s", info.Name, s.bucket),
		digest: sha256.New(),
	}
	if info.Chunks == 0 {
		return r, nil
	}
	cons, err := s.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{s.chunkSubject(info.NUID)},
		InactiveThreshold: consumerIdle,
	})
	if err != nil {
		return nil, fmt.Errorf("read chunks: %w", err)
	}
	if r.msgs, err = cons.Messages(jetstream.PullMaxMessages(prefetch)); err != nil {
		return nil, fmt.Errorf("read chunks: %w", err)
	}
	return r, nil
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.err = r.next()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// next receives the next chunk into r.buf, or checks the whole object once
// all its chunks are in: io.EOF when it is intact.
func (r *reader) next() error {
	if r.chunks == r.info.Chunks {
		return r.check()
	}
	ctx, cancel := context.WithTimeout(r.ctx, chunkWait)
	defer cancel()
	msg, err := r.msgs.Next(jetstream.NextContext(ctx))
	switch {
	case err == nil:
	case r.ctx.Err() != nil:
		return fmt.Errorf("read %s: %w", r.where, r.ctx.Err())
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("read %s: chunk %d of %d did not come within %v (deleted while read, or the stream is unavailable)",
			r.where, r.chunks+1, r.info.Chunks, chunkWait)
	default:
		return fmt.Errorf("read %s: chunk %d of %d: %w", r.where, r.chunks+1, r.info.Chunks, err)
	}
	r.buf = msg.Data()
	r.chunks++
	r.size += uint64(len(r.buf))
	r.digest.Write(r.buf)
	if r.size > r.info.Size {
		return fmt.Errorf("%w: %s: chunks hold more than its size %d", snapshot.ErrCorrupt, r.where, r.info.Size)
	}
	return nil
}

func (r *reader) check() error {
	if r.size != r.info.Size {
		return fmt.Errorf("%w: %s: chunks hold %d bytes, its size is %d", snapshot.ErrCorrupt, r.where, r.size, r.info.Size)
	}
	want, err := jetstream.DecodeObjectDigest(r.info.Digest)
	if err != nil {
		return fmt.Errorf("%w: %s: digest %q: %v", snapshot.ErrCorrupt, r.where, r.info.Digest, err)
	}
	if !bytes.Equal(r.digest.Sum(nil), want) {
		return fmt.Errorf("%w: %s: SHA-256 digest mismatch", snapshot.ErrCorrupt, r.where)
	}
	return io.EOF
}

// Close stops the consumer. Reads after Close fail with os.ErrClosed.
func (r *reader) Close() error {
	if r.msgs != nil {
		r.msgs.Stop()
		r.msgs = nil
	}
	r.buf = nil
	r.err = fmt.Errorf("read %s: %w", r.where, os.ErrClosed)
	return nil
}
