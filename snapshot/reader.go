package snapshot

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"

	"github.com/klauspost/compress/s2"
)

// Reader reads one snapshot file, verifying it as it goes. A Reader is not
// safe for concurrent use.
type Reader struct {
	r   *bufio.Reader
	h   Header
	t   Trailer
	err error // sticky: io.EOF once the trailer is verified, or the first error

	crc    uint32 // CRC32C of every byte consumed so far
	off    int64  // bytes consumed so far
	chunks int    // chunks read; the current one is chunks-1
	at     int64  // offset of the current chunk

	comp []byte // the current chunk as read
	data []byte // the current chunk's records, decompressed
	pos  int    // offset of the next record in data

	key       []byte // the last key read; prefix compression builds on it
	store     int    // the last record's store
	shareable int    // how much of key the next record may share: 0 at a chunk's start
	records   uint64
	head      [trailerSize]byte // a chunk's head or the trailer
	sum       [crcSize]byte
}

// NewReader reads and verifies the header from r. The Reader reads r
// through a buffer of its own unless r is a *bufio.Reader, and reads it to
// its end: the trailer must be the last thing in it.
func NewReader(r io.Reader) (*Reader, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	sr := &Reader{r: br, key: make([]byte, 0, MaxKeySize)}
	if err := sr.readHeader(); err != nil {
		return nil, err
	}
	return sr, nil
}

// Header returns the file's header. The caller must not modify its slices.
func (r *Reader) Header() Header { return r.h }

// Trailer returns the file's trailer once Next has returned io.EOF, the
// zero Trailer before.
func (r *Reader) Trailer() Trailer { return r.t }

// Next returns the next record. After the last record it verifies the
// trailer (its checksum, the record count, the end of the input) and
// returns io.EOF; a damage anywhere is an error wrapping ErrCorrupt. Once
// Next returned an error it returns the same error again. key and value
// are read-only and valid until the next call. Next allocates only when a
// chunk is larger than any before it, never per record.
func (r *Reader) Next() (store int, key, value []byte, err error) {
	for r.err == nil && r.pos == len(r.data) {
		r.err = r.nextPiece()
	}
	if r.err != nil {
		return 0, nil, nil, r.err
	}
	store, key, value, r.err = r.decode()
	return store, key, value, r.err
}

// decode decodes the record at r.pos.
func (r *Reader) decode() (int, []byte, []byte, error) {
	d := r.data[r.pos:]
	store, n1 := uvarint(d)
	shared, n2 := uvarint(d[n1:])
	suffix, n3 := uvarint(d[n1+n2:])
	if n1 == 0 || n2 == 0 || n3 == 0 {
		return r.bad("bad varint")
	}
	d = d[n1+n2+n3:]
	switch {
	case store >= uint64(len(r.h.Stores)):
		return r.bad(fmt.Sprintf("store %d, the header lists %d", store, len(r.h.Stores)))
	case shared > uint64(r.shareable):
		return r.bad(fmt.Sprintf("shares %d key bytes of %d", shared, r.shareable))
	case suffix > uint64(MaxKeySize)-shared || suffix > uint64(len(d)):
		return r.bad(fmt.Sprintf("key suffix of %d bytes", suffix))
	case shared+suffix == 0:
		return r.bad("empty key")
	}
	tail := d[:suffix]
	d = d[suffix:]
	vlen, n4 := uvarint(d)
	if n4 == 0 || vlen > MaxValueSize || vlen > uint64(len(d)-n4) {
		return r.bad(fmt.Sprintf("bad value length %d", vlen))
	}
	if r.records > 0 && (int(store) < r.store || int(store) == r.store && !after(tail, r.key[shared:])) {
		return r.bad("records out of order")
	}
	r.key = append(r.key[:shared], tail...)
	r.store = int(store)
	r.shareable = len(r.key)
	r.records++
	end := len(r.data) - len(d) + n4 + int(vlen)
	value := r.data[end-int(vlen) : end : end]
	r.pos = end
	return r.store, r.key[:len(r.key):len(r.key)], value, nil
}

// after reports whether tail > prev, deciding the usual case of a first
// byte that differs without a call.
func after(tail, prev []byte) bool {
	if len(tail) > 0 && len(prev) > 0 && tail[0] != prev[0] {
		return tail[0] > prev[0]
	}
	return bytes.Compare(tail, prev) > 0
}

// uvarint is binary.Uvarint with n = 0 for every bad or missing varint.
func uvarint(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, 0
	}
	return v, n
}

func (r *Reader) bad(why string) (int, []byte, []byte, error) {
	return 0, nil, nil, corruptf("chunk %d at byte %d: record %d: %s", r.chunks-1, r.at, r.records, why)
}

// nextPiece reads the next chunk, or the trailer and the end of input.
func (r *Reader) nextPiece() error {
	at := r.off
	kind, err := r.read(r.head[:1])
	if err != nil {
		if errors.Is(err, io.EOF) {
			return corruptf("truncated after %s: no trailer", r.lastPiece())
		}
		return err
	}
	switch kind[0] {
	case kindChunk:
		return r.readChunk(at)
	case kindTrailer:
		return r.readTrailer(at)
	}
	return corruptf("piece at byte %d after %s: unknown kind %d", at, r.lastPiece(), kind[0])
}

func (r *Reader) lastPiece() string {
	if r.chunks == 0 {
		return "the header"
	}
	return fmt.Sprintf("chunk %d", r.chunks-1)
}

func (r *Reader) readChunk(at int64) error {
	r.at, r.chunks = at, r.chunks+1
	where := func(why string) error { return corruptf("chunk %d at byte %d: %s", r.chunks-1, at, why) }
	head, err := r.read(r.head[1:chunkHeadSize])
	if err != nil {
		return r.truncated(err, where)
	}
	ulen := binary.LittleEndian.Uint32(head)
	clen := binary.LittleEndian.Uint32(head[4:])
	if ulen == 0 || ulen > MaxChunkSize {
		return where(fmt.Sprintf("uncompressed length %d, want 1 to %d", ulen, MaxChunkSize))
	}
	if clen == 0 || int(clen) > s2.MaxEncodedLen(int(ulen)) {
		return where(fmt.Sprintf("compressed length %d for %d bytes", clen, ulen))
	}
	block, err := r.readN(int(clen))
	if err != nil {
		return r.truncated(err, where)
	}
	if err := r.checkCRC(where); err != nil {
		return err
	}
	if n, err := s2.DecodedLen(block); err != nil || n != int(ulen) {
		return where(fmt.Sprintf("block length %d, the chunk says %d", n, ulen))
	}
	if cap(r.data) < int(ulen) {
		r.data = make([]byte, ulen)
	}
	r.data, err = s2.Decode(r.data[:cap(r.data)], block)
	if err != nil {
		r.data = r.data[:0]
		return where(err.Error())
	}
	r.pos, r.shareable = 0, 0
	return nil
}

// checkCRC reads a checksum field and compares it with the checksum of
// every byte before it.
func (r *Reader) checkCRC(where func(string) error) error {
	want := r.crc
	b, err := r.read(r.sum[:])
	if err != nil {
		return r.truncated(err, where)
	}
	if binary.LittleEndian.Uint32(b) != want {
		return where("checksum mismatch")
	}
	return nil
}

func (r *Reader) readTrailer(at int64) error {
	where := func(why string) error { return corruptf("trailer at byte %d after %s: %s", at, r.lastPiece(), why) }
	body, err := r.read(r.head[1:trailerSize])
	if err != nil {
		return r.truncated(err, where)
	}
	if err := r.checkCRC(where); err != nil {
		return err
	}
	if n := binary.LittleEndian.Uint64(body); n != r.records {
		return where(fmt.Sprintf("trailer says %d records, read %d", n, r.records))
	}
	if _, err := r.r.ReadByte(); err == nil {
		return corruptf("bytes after the trailer at byte %d", r.off)
	} else if !errors.Is(err, io.EOF) {
		return fmt.Errorf("snapshot: read at byte %d: %w", r.off, err)
	}
	r.t = Trailer{Records: r.records, StateHash: bytes.Clone(body[8:])}
	return io.EOF
}

// read fills b from the input. Its errors are io.EOF when nothing was
// read, io.ErrUnexpectedEOF when some was, or the input's own.
func (r *Reader) read(b []byte) ([]byte, error) {
	n, err := io.ReadFull(r.r, b)
	r.crc = crc32.Update(r.crc, castagnoli, b[:n])
	r.off += int64(n)
	return b, err
}

// readN is read into r.comp, which grows no faster than bytes arrive, so
// that a damaged length costs at most twice the input's size in memory.
func (r *Reader) readN(n int) ([]byte, error) {
	b := r.comp[:0]
	for len(b) < n {
		step := n - len(b)
		if cap(b) < n {
			step = min(step, max(len(b), 1<<20))
			b = slices.Grow(b, step)
		}
		m, err := io.ReadFull(r.r, b[len(b):len(b)+step])
		r.crc = crc32.Update(r.crc, castagnoli, b[len(b):len(b)+m])
		b = b[:len(b)+m]
		r.off += int64(m)
		if err != nil {
			r.comp = b
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	r.comp = b
	return b, nil
}

// truncated turns an early end of input into corruption, and passes the
// input's other errors through.
func (r *Reader) truncated(err error, where func(string) error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return where("truncated")
	}
	return fmt.Errorf("snapshot: read at byte %d: %w", r.off, err)
}

// readHeader reads and verifies the magic, version and header.
func (r *Reader) readHeader() error {
	where := func(why string) error { return corruptf("header: %s", why) }
	var pre [prefixSize]byte
	if _, err := r.read(pre[:]); err != nil {
		return r.truncated(err, where)
	}
	if string(pre[:len(Magic)]) != Magic {
		return corruptf("not a snapshot file: magic %q, want %q", pre[:len(Magic)], Magic)
	}
	if v := pre[len(Magic)]; v != Version {
		return corruptf("format version %d, this build reads %d", v, Version)
	}
	n := binary.LittleEndian.Uint32(pre[len(Magic)+1:])
	if n > MaxHeaderSize {
		return where(fmt.Sprintf("length %d, at most %d", n, MaxHeaderSize))
	}
	body, err := r.readN(int(n))
	if err != nil {
		return r.truncated(err, where)
	}
	if err := r.checkCRC(where); err != nil {
		return err
	}
	h, err := decodeHeader(body)
	if err != nil {
		return where(err.Error())
	}
	r.h = h
	return nil
}

// decodeHeader decodes the header fields.
func decodeHeader(b []byte) (Header, error) {
	d := decoder{b: b}
	h := Header{
		Domain:  string(d.bytes("domain")),
		Seq:     d.uvarint("seq"),
		Node:    string(d.bytes("node")),
		Created: d.varint("created"),
		Catalog: bytes.Clone(d.bytes("catalog")),
	}
	n := d.uvarint("store count")
	// Each name takes at least its length byte, so len(d.b) bounds n.
	if d.err == nil && (n > MaxStores || n > uint64(len(d.b))) {
		return Header{}, fmt.Errorf("%d stores in %d bytes, at most %d", n, len(d.b), MaxStores)
	}
	h.Stores = make([]string, n)
	for i := range h.Stores {
		h.Stores[i] = string(d.bytes("store name"))
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d bytes after the last field", len(d.b))
	}
	return h, d.err
}

// decoder reads header fields; its first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := uvarint(d.b)
	if n == 0 {
		d.err = fmt.Errorf("%s: bad varint", field)
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(field string) int64 {
	u := d.uvarint(field)
	return int64(u>>1) ^ -int64(u&1) // zigzag, as binary.Varint
}

func (d *decoder) bytes(field string) []byte {
	n := d.uvarint(field)
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%s: length %d, %d bytes left", field, n, len(d.b))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
