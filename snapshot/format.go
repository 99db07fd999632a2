package snapshot

import (
	"errors"
	"fmt"
	"hash/crc32"
)

// Header opens a snapshot file: what the records that follow are a dump of.
type Header struct {
	Domain  string
	Seq     uint64 // the file holds the state after applying this seq
	Node    string // the node that wrote it
	Created int64  // Unix nanoseconds; informational
	// Catalog is the domain's store catalog (projector.Catalog's encoding),
	// opaque to this package.
	Catalog []byte
	// Stores names the stores whose records follow, in record order: a
	// record's store is an index into it.
	Stores []string
}

// Trailer closes a snapshot file.
type Trailer struct {
	Records   uint64 // number of records in the file
	StateHash []byte // HashSize bytes (projector.Hash), opaque to this package
}

// WriterOptions tune a Writer. The zero value is the default.
type WriterOptions struct {
	// ChunkSize is the number of uncompressed record bytes after which a
	// chunk is closed, 1 MiB by default, at most MaxChunkSize/2. A chunk
	// holds at least one record, so one large record makes a larger chunk.
	ChunkSize int
}

// Format constants and the limits both the Writer and the Reader enforce.
// The Reader checks every length it reads against them before allocating,
// so a damaged or hostile file cannot make it allocate much more than the
// file's own size (or MaxChunkSize, whichever is larger).
const (
	// Magic opens every snapshot file.
	Magic = "SOPSNAP\x00"
	// Version is the format version this package writes and reads.
	Version = 1

	MaxHeaderSize = 256 << 20 // encoded header fields
	MaxStores     = 1 << 20   // entries in Header.Stores
	MaxChunkSize  = 64 << 20  // uncompressed bytes of one chunk
	MaxKeySize    = 4096      // bytes of a record's key (at least 1)
	// MaxValueSize is the largest record value: an item's 16 MiB value
	// behind its uvarint version (see FORMAT.md, "Items").
	MaxValueSize = 16<<20 + 10
	// HashSize is the length of Trailer.StateHash (SHA-256).
	HashSize = 32

	defaultChunkSize = 1 << 20
)

// Piece kinds: the byte that opens each piece after the header.
const (
	kindChunk   = 1
	kindTrailer = 2
)

// Sizes of the fixed parts of the layout.
const (
	prefixSize    = len(Magic) + 1 + 4 // magic, version, header length
	chunkHeadSize = 1 + 4 + 4          // kind, uncompressed length, compressed length
	trailerSize   = 1 + 8 + HashSize   // kind, record count, state hash
	crcSize       = 4                  // every checksum field
)

// Errors of the file format. Callers test them with errors.Is.
var (
	// ErrInvalid: a Writer was given something it cannot write (a record
	// out of order, an empty or too long key, a too long value, a store
	// index outside Header.Stores, too many stores, a trailer whose count
	// or hash length is wrong) or was used after Close. Nothing was written
	// for the call; the Writer stays usable unless it was closed.
	ErrInvalid = errors.New("snapshot: invalid")

	// ErrCorrupt marks every damage a Reader finds: bad magic, unknown
	// version, checksum mismatch, impossible length, records out of order,
	// truncation, bytes after the trailer. The wrapping error names what and
	// where, e.g. "snapshot: corrupt: chunk 12 at byte 1048920: checksum
	// mismatch". Errors of the underlying io.Reader other than an early EOF
	// are returned wrapped, without this mark.
	ErrCorrupt = errors.New("snapshot: corrupt")
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)
