package snapshot

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"

	"github.com/klauspost/compress/s2"
)

// Writer writes one snapshot file: NewWriter writes the header, Add the
// records in (store, key) order, Close the last chunk and the trailer.
// A Writer is not safe for concurrent use.
type Writer struct {
	w         io.Writer
	err       error // sticky: the first error of w
	closed    bool
	stores    int // len(Header.Stores)
	chunkSize int

	buf  []byte // the current chunk's records, uncompressed
	out  []byte // the encoded chunk: head, S2 block, checksum
	crc  uint32 // CRC32C of every byte written so far
	off  int64  // bytes written so far
	prev []byte // the last key added

	prevStore int
	records   uint64
	chunks    int
}

// NewWriter checks h and opts and writes the header to w. Errors for h or
// opts wrap ErrInvalid.
func NewWriter(w io.Writer, h Header, opts WriterOptions) (*Writer, error) {
	size := opts.ChunkSize
	switch {
	case size == 0:
		size = defaultChunkSize
	case size < 0 || size > MaxChunkSize/2:
		return nil, invalidf("chunk size %d: want 1 to %d bytes", size, MaxChunkSize/2)
	}
	if len(h.Stores) > MaxStores {
		return nil, invalidf("%d stores, at most %d", len(h.Stores), MaxStores)
	}
	sw := &Writer{w: w, stores: len(h.Stores), chunkSize: size, prev: make([]byte, 0, MaxKeySize)}
	b, err := encodeHeader(h)
	if err != nil {
		return nil, err
	}
	if err := sw.write(b); err != nil {
		return nil, err
	}
	return sw, nil
}

// encodeHeader returns the file's prefix: magic, version, header length,
// header fields and their checksum.
func encodeHeader(h Header) ([]byte, error) {
	b := make([]byte, prefixSize, prefixSize+64+len(h.Catalog)+16*len(h.Stores))
	copy(b, Magic)
	b[len(Magic)] = Version
	b = appendBytes(b, []byte(h.Domain))
	b = binary.AppendUvarint(b, h.Seq)
	b = appendBytes(b, []byte(h.Node))
	b = binary.AppendVarint(b, h.Created)
	b = appendBytes(b, h.Catalog)
	b = binary.AppendUvarint(b, uint64(len(h.Stores)))
	for _, s := range h.Stores {
		b = appendBytes(b, []byte(s))
	}
	n := len(b) - prefixSize
	if n > MaxHeaderSize {
		return nil, invalidf("header of %d bytes, at most %d", n, MaxHeaderSize)
	}
	binary.LittleEndian.PutUint32(b[len(Magic)+1:], uint32(n))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

func appendBytes(b, s []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// Add appends a record. Records must come strictly increasing by (store,
// key), with store an index into Header.Stores and key 1 to MaxKeySize
// bytes; value may be empty. Add copies what it keeps, so key and value
// may be reused when it returns. A rejected record wraps ErrInvalid and
// leaves the Writer as it was; an error of the io.Writer is returned by
// this and every later call.
func (w *Writer) Add(store int, key, value []byte) error {
	shared, err := w.check(store, key, value)
	if err != nil {
		return err
	}
	size := 4*binary.MaxVarintLen64 + len(key) + len(value)
	if len(w.buf) > 0 && len(w.buf)+size > w.chunkSize {
		if err := w.flush(); err != nil {
			return err
		}
	}
	if len(w.buf) == 0 {
		shared = 0 // a chunk starts with a whole key
	}
	b := binary.AppendUvarint(w.buf, uint64(store))
	b = binary.AppendUvarint(b, uint64(shared))
	b = appendBytes(b, key[shared:])
	w.buf = appendBytes(b, value)
	w.prev = append(w.prev[:0], key...)
	w.prevStore = store
	w.records++
	return nil
}

// check validates a record and returns how many leading bytes its key
// shares with the previous one.
func (w *Writer) check(store int, key, value []byte) (int, error) {
	switch {
	case w.err != nil:
		return 0, w.err
	case w.closed:
		return 0, invalidf("add to a closed writer")
	case store < 0 || store >= w.stores:
		return 0, invalidf("record of store %d, the header lists %d stores", store, w.stores)
	case len(key) == 0 || len(key) > MaxKeySize:
		return 0, invalidf("store %d: key of %d bytes, want 1 to %d", store, len(key), MaxKeySize)
	case len(value) > MaxValueSize:
		return 0, invalidf("store %d, key %q: value of %d bytes, at most %d", store, key, len(value), MaxValueSize)
	}
	shared := commonPrefix(w.prev, key)
	// key > prev: key goes on where prev ends, or differs upward.
	after := shared < len(key) && (shared == len(w.prev) || key[shared] > w.prev[shared])
	if w.records > 0 && (store < w.prevStore || store == w.prevStore && !after) {
		return 0, invalidf("records out of order: store %d, key %q after store %d, key %q", store, key, w.prevStore, w.prev)
	}
	return shared, nil
}

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n; i += 8 {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// flush writes the current chunk.
func (w *Writer) flush() error {
	need := chunkHeadSize + s2.MaxEncodedLen(len(w.buf)) + crcSize
	if cap(w.out) < need {
		w.out = make([]byte, need)
	}
	out := w.out[:need]
	block := s2.Encode(out[chunkHeadSize:chunkHeadSize], w.buf)
	out[0] = kindChunk
	binary.LittleEndian.PutUint32(out[1:], uint32(len(w.buf)))
	binary.LittleEndian.PutUint32(out[5:], uint32(len(block)))
	out = w.appendCRC(out[:chunkHeadSize+len(block)])
	if err := w.write(out); err != nil {
		return err
	}
	w.buf = w.buf[:0]
	w.chunks++
	return nil
}

// appendCRC appends the checksum of every byte before it: those written
// already and b.
func (w *Writer) appendCRC(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(b, crc32.Update(w.crc, castagnoli, b))
}

func (w *Writer) write(b []byte) error {
	if _, err := w.w.Write(b); err != nil {
		w.err = fmt.Errorf("snapshot: write at byte %d: %w", w.off, err)
		return w.err
	}
	w.crc = crc32.Update(w.crc, castagnoli, b)
	w.off += int64(len(b))
	return nil
}

// Close writes the last chunk and the trailer. t.Records must equal the
// number of records added and t.StateHash be HashSize bytes, else the error
// wraps ErrInvalid and nothing is written. Close does not close the
// io.Writer.
func (w *Writer) Close(t Trailer) error {
	switch {
	case w.err != nil:
		return w.err
	case w.closed:
		return invalidf("writer already closed")
	case t.Records != w.records:
		return invalidf("trailer says %d records, %d were added", t.Records, w.records)
	case len(t.StateHash) != HashSize:
		return invalidf("state hash of %d bytes, want %d", len(t.StateHash), HashSize)
	}
	if len(w.buf) > 0 {
		if err := w.flush(); err != nil {
			return err
		}
	}
	b := make([]byte, 0, trailerSize+crcSize)
	b = append(b, kindTrailer)
	b = binary.LittleEndian.AppendUint64(b, t.Records)
	b = append(b, t.StateHash...)
	if err := w.write(w.appendCRC(b)); err != nil {
		return err
	}
	w.closed = true
	return nil
}
