// Package snapshot holds the snapshot file format (Writer, Reader) and the
// stores that keep snapshot files (the Store interface, Dir; the JetStream
// object store and Cassandra stores live in subpackages).
//
// A snapshot file is a consistent dump of every store of one domain at one
// seq: a header, the records sorted by (store, key), and a trailer with the
// record count and the state hash. docs/FORMAT.md ("Snapshot file") has the
// same layout as tables.
//
// # Layout
//
// Integers are little-endian; uvarint and varint are encoding/binary's
// (varint is zigzag). The file is:
//
//	8 bytes   magic "SOPSNAP\x00"
//	1 byte    format version, 1
//	4 bytes   header length n, at most MaxHeaderSize
//	n bytes   header fields:
//	            uvarint + bytes  domain
//	            uvarint          seq
//	            uvarint + bytes  node
//	            varint           created, Unix nanoseconds
//	            uvarint + bytes  catalog
//	            uvarint          store count (at most MaxStores), then per store:
//	              uvarint + bytes  name
//	4 bytes   checksum
//	then zero or more chunks:
//	  1 byte    kind, 1
//	  4 bytes   uncompressed length u, 1 to MaxChunkSize
//	  4 bytes   compressed length c, at most s2.MaxEncodedLen(u)
//	  c bytes   the records, compressed as one S2 block (klauspost/compress/s2)
//	  4 bytes   checksum
//	then the trailer:
//	  1 byte    kind, 2
//	  8 bytes   record count
//	  32 bytes  state hash
//	  4 bytes   checksum
//	and nothing after it.
//
// Every checksum is the CRC32C (Castagnoli) of every byte of the file
// before it, earlier checksums included; so each one also covers the
// order and presence of everything before it, and a chunk that is lost,
// repeated, or moved from another file fails the next checksum.
//
// A chunk's u bytes, once decompressed, are whole records, at least one:
//
//	uvarint          store: an index into the header's stores
//	uvarint          shared: how many leading bytes the key shares with the
//	                 previous record's key in this chunk; 0 for a chunk's first
//	uvarint + bytes  the key's remaining bytes
//	uvarint + bytes  value, at most MaxValueSize
//
// A key is 1 to MaxKeySize bytes. Records are strictly increasing by
// (store, key), across chunks too. The writer closes a chunk before the
// record that would take it past WriterOptions.ChunkSize (1 MiB by
// default); a single larger record gets a chunk of its own. Records are
// never split across chunks.
//
// A reader rejects with ErrCorrupt a bad magic, a version other than 1, a
// checksum mismatch, a length out of bounds, a chunk that does not decode
// to exactly u bytes of whole records, records out of order or naming a
// store the header lacks, a trailer whose count differs from the records
// read, a missing trailer, and bytes after it. A newer format gets a new
// version byte.
package snapshot
