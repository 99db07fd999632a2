package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
)

// span is one part of a file's layout: [start, end) and what it is.
type span struct {
	what       string // "prefix", "header", "chunk head", "block", "trailer", "checksum"
	start, end int
}

// layout walks a file the way the Reader does and returns its parts, up to
// where a length runs past the end.
func layout(data []byte) []span {
	var out []span
	add := func(what string, n int) bool {
		start := 0
		if len(out) > 0 {
			start = out[len(out)-1].end
		}
		if n < 0 || start+n > len(data) {
			return false
		}
		out = append(out, span{what, start, start + n})
		return true
	}
	if !add("prefix", prefixSize) {
		return out
	}
	if !add("header", int(binary.LittleEndian.Uint32(data[len(Magic)+1:]))) || !add("checksum", crcSize) {
		return out
	}
	for {
		at := out[len(out)-1].end
		if at >= len(data) {
			return out
		}
		switch data[at] {
		case kindChunk:
			if !add("chunk head", chunkHeadSize) {
				return out
			}
			if !add("block", int(binary.LittleEndian.Uint32(data[at+5:]))) || !add("checksum", crcSize) {
				return out
			}
		case kindTrailer:
			if !add("trailer", trailerSize) || !add("checksum", crcSize) {
				return out
			}
		default:
			return out
		}
	}
}

// reseal recomputes every checksum of data in place, so that damage
// reaches the structural checks behind them.
func reseal(data []byte) {
	for _, s := range layout(data) {
		if s.what == "checksum" {
			binary.LittleEndian.PutUint32(data[s.start:], crc32.Checksum(data[:s.start], castagnoli))
		}
	}
}

// smallFile is a valid file with a few chunks.
func smallFile(t testing.TB) ([]byte, []record) {
	recs := []record{
		{0, []byte("apple"), []byte("red")},
		{0, []byte("apricot"), []byte("orange")},
		{0, []byte("banana"), nil},
		{1, []byte("a"), []byte("x")},
		{1, []byte("ab"), bytes.Repeat([]byte("y"), 40)},
		{2, []byte("zz"), []byte("last")},
	}
	return encode(t, testHeader(3), recs, WriterOptions{ChunkSize: 24}), recs
}

// Every single-bit, single-byte and whole-byte change is detected; a
// change inside a compressed block is caught by the checksum; the records
// returned before the error are the file's first ones.
func TestEveryByteFlipDetected(t *testing.T) {
	data, recs := smallFile(t)
	spans := layout(data)
	if n := countWhat(spans, "block"); n < 3 {
		t.Fatalf("the test file has %d chunks, want at least 3", n)
	}
	for _, s := range spans {
		for i := s.start; i < s.end; i++ {
			for _, mask := range []byte{0x01, 0x80, 0xff, 0x5a} {
				bad := slices.Clone(data)
				bad[i] ^= mask
				_, got, _, err := decodeAll(bad)
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("byte %d (%s) ^ %#x: err %v, want ErrCorrupt", i, s.what, mask, err)
				}
				if (s.what == "block" || s.what == "checksum") && !strings.Contains(err.Error(), "checksum mismatch") {
					t.Fatalf("byte %d (%s) ^ %#x: %v, want a checksum mismatch", i, s.what, mask, err)
				}
				sameRecords(t, got, recs[:len(got)])
			}
		}
	}
}

func countWhat(spans []span, what string) int {
	n := 0
	for _, s := range spans {
		if s.what == what {
			n++
		}
	}
	return n
}

func TestEveryTruncationDetected(t *testing.T) {
	data, recs := smallFile(t)
	for n := range len(data) {
		_, got, _, err := decodeAll(data[:n])
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("first %d of %d bytes: err %v, want ErrCorrupt", n, len(data), err)
		}
		sameRecords(t, got, recs[:len(got)])
	}
	if _, _, _, err := decodeAll(data[:len(data)-crcSize]); !strings.Contains(err.Error(), "trailer") || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("cut in the trailer: %v", err)
	}
	if _, _, _, err := decodeAll(data[:layout(data)[5].end]); !strings.Contains(err.Error(), "truncated after chunk 0: no trailer") {
		t.Errorf("cut after the first chunk: %v", err)
	}
}

// Whole chunks lost, repeated or swapped fail the next checksum; so do
// chunks taken from another file.
func TestChunksRearranged(t *testing.T) {
	data, _ := smallFile(t)
	spans := layout(data)
	var chunks [][]byte // each chunk with its checksum
	var before, trailer []byte
	for i, s := range spans {
		switch s.what {
		case "chunk head":
			chunks = append(chunks, data[s.start:spans[i+2].end])
		case "trailer":
			trailer = data[s.start:]
		}
	}
	before = data[:spans[2].end]
	join := func(parts ...[]byte) []byte { return slices.Concat(append([][]byte{before}, parts...)...) }
	for name, bad := range map[string][]byte{
		"dropped":  join(slices.Concat(chunks[1:]...), trailer),
		"repeated": join(chunks[0], slices.Concat(chunks...), trailer),
		"swapped":  join(chunks[1], chunks[0], slices.Concat(chunks[2:]...), trailer),
		"appended": append(slices.Clone(data), data...),
	} {
		if _, _, _, err := decodeAll(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// craft builds a file from a header and pieces, with valid checksums.
type craft struct{ b []byte }

func newCraft(h Header) *craft {
	b, err := encodeHeader(h)
	if err != nil {
		panic(err)
	}
	return &craft{b}
}

func (c *craft) seal() *craft {
	c.b = binary.LittleEndian.AppendUint32(c.b, crc32.Checksum(c.b, castagnoli))
	return c
}

// chunk appends a chunk of raw (uncompressed) record bytes.
func (c *craft) chunk(raw []byte) *craft {
	block := s2.Encode(nil, raw)
	return c.chunkLens(uint32(len(raw)), block)
}

func (c *craft) chunkLens(ulen uint32, block []byte) *craft {
	c.b = append(c.b, kindChunk)
	c.b = binary.LittleEndian.AppendUint32(c.b, ulen)
	c.b = binary.LittleEndian.AppendUint32(c.b, uint32(len(block)))
	c.b = append(c.b, block...)
	return c.seal()
}

func (c *craft) trailer(n uint64) *craft {
	c.b = append(c.b, kindTrailer)
	c.b = binary.LittleEndian.AppendUint64(c.b, n)
	c.b = append(c.b, make([]byte, HashSize)...)
	return c.seal()
}

// rec encodes one record as a chunk holds it.
func rec(store, shared int, suffix, value string) []byte {
	b := binary.AppendUvarint(nil, uint64(store))
	b = binary.AppendUvarint(b, uint64(shared))
	b = appendBytes(b, []byte(suffix))
	return appendBytes(b, []byte(value))
}

// Damage behind valid checksums is caught by the structural checks, each
// named.
func TestStructuralDamage(t *testing.T) {
	h := testHeader(2)
	good := func() *craft { return newCraft(h) }
	headerWith := func(edit func([]byte) []byte) []byte {
		b, _ := encodeHeader(h)
		body := edit(slices.Clone(b[prefixSize : len(b)-crcSize]))
		out := append(slices.Clone(b[:prefixSize]), body...)
		binary.LittleEndian.PutUint32(out[len(Magic)+1:], uint32(len(body)))
		return (&craft{out}).seal().trailer(0).b
	}
	cases := map[string]struct {
		data []byte
		want string
	}{
		"empty":            {nil, "header: truncated"},
		"magic":            {append([]byte("SOPSNAQ\x00"), good().trailer(0).b[8:]...), "not a snapshot file"},
		"version":          {func() []byte { b := good().trailer(0).b; b[8] = 2; return b }(), "format version 2, this build reads 1"},
		"header too long":  {cat([]byte(Magic), []byte{1, 0xff, 0xff, 0xff, 0xff}), "header: length 4294967295"},
		"header extra":     {headerWith(func(b []byte) []byte { return append(b, 0) }), "1 bytes after the last field"},
		"header short":     {headerWith(func(b []byte) []byte { return b[:len(b)-1] }), "store name: length"},
		"store count":      {headerWith(func(b []byte) []byte { return append(b[:len(b)-15], 0xff, 0xff, 0x7f) }), "stores in"},
		"no trailer":       {good().chunk(rec(0, 0, "a", "")).b, "truncated after chunk 0: no trailer"},
		"unknown kind":     {append(good().b, 7), "unknown kind 7"},
		"after trailer":    {append(good().trailer(0).b, 0), "bytes after the trailer"},
		"count":            {good().chunk(rec(0, 0, "a", "")).trailer(2).b, "trailer says 2 records, read 1"},
		"empty chunk":      {good().chunkLens(0, s2.Encode(nil, nil)).trailer(0).b, "uncompressed length 0"},
		"huge chunk":       {good().chunkLens(MaxChunkSize+1, []byte{1}).trailer(0).b, "uncompressed length 67108865"},
		"huge block":       {good().chunkLens(10, make([]byte, 100)).trailer(0).b, "compressed length 100 for 10 bytes"},
		"length mismatch":  {good().chunkLens(10, s2.Encode(nil, rec(0, 0, "a", "bc"))).trailer(1).b, "block length 7, the chunk says 10"},
		"bad block":        {good().chunkLens(6, []byte{6, 0xff, 0xff, 0xff}).trailer(1).b, "chunk 0 at byte"},
		"store range":      {good().chunk(rec(2, 0, "a", "")).trailer(1).b, "store 2, the header lists 2"},
		"shared at start":  {good().chunk(rec(0, 0, "a", "")).chunk(rec(0, 1, "b", "")).trailer(2).b, "chunk 1 at byte 75: record 1: shares 1 key bytes of 0"},
		"shared too long":  {good().chunk(cat(rec(0, 0, "a", ""), rec(0, 2, "b", ""))).trailer(2).b, "shares 2 key bytes of 1"},
		"empty key":        {good().chunk(rec(0, 0, "", "v")).trailer(1).b, "empty key"},
		"key too long":     {good().chunk(rec(0, 0, strings.Repeat("k", MaxKeySize+1), "")).trailer(1).b, "key suffix of 4097 bytes"},
		"key past end":     {good().chunk(rec(0, 0, "abc", "")[:4]).trailer(1).b, "key suffix of 3 bytes"},
		"value past end":   {good().chunk(rec(0, 0, "a", "abc")[:5]).trailer(1).b, "bad value length 3"},
		"bad varint":       {good().chunk([]byte{0x80}).trailer(1).b, "bad varint"},
		"equal keys":       {good().chunk(cat(rec(0, 0, "a", ""), rec(0, 1, "", ""))).trailer(2).b, "records out of order"},
		"key order":        {good().chunk(cat(rec(0, 0, "b", ""), rec(0, 0, "a", ""))).trailer(2).b, "record 1: records out of order"},
		"store order":      {good().chunk(cat(rec(1, 0, "a", ""), rec(0, 0, "b", ""))).trailer(2).b, "records out of order"},
		"order over chunk": {good().chunk(rec(0, 0, "b", "")).chunk(rec(0, 0, "a", "")).trailer(2).b, "chunk 1 at byte 75: record 1: records out of order"},
		"prefix order":     {good().chunk(cat(rec(0, 0, "ab", ""), rec(0, 1, "", ""))).trailer(2).b, "records out of order"},
		"shorter key":      {good().chunk(cat(rec(0, 0, "ab", ""), rec(0, 0, "a", ""))).trailer(2).b, "records out of order"},
	}
	for name, c := range cases {
		_, _, _, err := decodeAll(c.data)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrCorrupt naming %q", name, err, c.want)
		}
	}
	// The crafted pieces themselves are well-formed.
	if _, got, _, err := decodeAll(good().chunk(cat(rec(0, 0, "ab", "1"), rec(0, 2, "c", "2"), rec(1, 0, "a", ""))).trailer(3).b); err != nil || len(got) != 3 || string(got[1].key) != "abc" {
		t.Fatalf("crafted file: %v, %v", err, got)
	}
}

// Lengths that promise far more than the input holds cost memory in
// proportion to the input, not to the promise.
func TestHostileLengthsAllocateLittle(t *testing.T) {
	h := testHeader(1)
	hugeHeader := cat(b(Magic), []byte{1}, binary.LittleEndian.AppendUint32(nil, MaxHeaderSize), make([]byte, 1000))
	c := newCraft(h)
	c.b = append(c.b, kindChunk)
	c.b = binary.LittleEndian.AppendUint32(c.b, MaxChunkSize)
	c.b = binary.LittleEndian.AppendUint32(c.b, uint32(s2.MaxEncodedLen(MaxChunkSize)))
	c.b = append(c.b, make([]byte, 1000)...)
	for name, data := range map[string][]byte{"header": hugeHeader, "chunk": c.b} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, _, err := decodeAll(data)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
			t.Errorf("%s: a %d-byte input made the reader allocate %d bytes", name, len(data), n)
		}
	}
}

func cat(parts ...[]byte) []byte { return slices.Concat(parts...) }
func b(s string) []byte          { return []byte(s) }

// A random file with random damage: an error by the end, and only the
// file's first records before it.
func TestRandomDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 7))
	for range 200 {
		recs := genRecords(rng, 1+rng.IntN(4), rng.IntN(300), 30, 60)
		data := encode(t, testHeader(4), recs, WriterOptions{ChunkSize: 1 + rng.IntN(2000)})
		bad := slices.Clone(data)
		for range 1 + rng.IntN(3) {
			bad[rng.IntN(len(bad))] ^= byte(1 + rng.IntN(255))
		}
		if rng.IntN(3) == 0 {
			bad = bad[:rng.IntN(len(bad))]
		}
		if bytes.Equal(bad, data) {
			continue // the flips cancelled out
		}
		_, got, _, err := decodeAll(bad)
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("damaged file read with %v", err)
		}
		sameRecords(t, got, recs[:len(got)])
	}
}
