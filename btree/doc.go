// Package btree is sop's on-disk copy-on-write B+tree: many trees (stores)
// in one page file, written in batches that publish new roots atomically,
// read by any number of concurrent readers that each pin a version.
//
// # Usage
//
//	f, err := btree.Open(path, cp, btree.Options{})    // cp: the last saved Checkpoint, or zero
//	b, err := f.Begin()                                // the one write batch
//	b.CreateTree(1); b.Put(1, key, value); b.Delete(1, key)
//	err = b.Commit()                                   // readers now see the new version
//	cp, err = f.Flush(func(cp btree.Checkpoint) error { return store(cp) })
//	r, err := f.NewReader(); defer r.Release()        // pins the current version
//	v, ok, err := r.Get(1, key)
//	c, err := r.Cursor(1, btree.Bounds{Start: a, End: z}); for ok := c.First(); ok; ok = c.Next() { ... }
//
// # Durability
//
// Commit publishes in memory only. Flush writes the pages committed batches
// left unwritten, syncs the page file, and hands the caller a Checkpoint
// (version, tree roots, free list, high-water mark) to store durably; the
// sop engine stores it in Pebble next to the journal position it matches.
// Opening the file with that checkpoint reproduces exactly the flushed
// state. Pages that the last saved checkpoint references are never
// overwritten, so a crash at any instant, with any subset of unsynced
// writes reaching the disk, leaves that checkpoint intact.
//
// # Page reuse
//
// A page freed by the batch that publishes version w is reused once no
// reader holds a version older than w and, when the last saved checkpoint
// references it, once a newer checkpoint is saved. Pages born and freed
// between two checkpoints never reach the disk.
//
// # Page layout
//
// Pages are PageSize bytes (a power of two from 4 KiB to 64 KiB, 8 KiB by
// default); page id N lives at byte offset N*PageSize. Page 0 is the file
// header. Integers are little-endian.
//
//	off size  every page
//	0   4     checksum: CRC32C (Castagnoli) of bytes [4, PageSize)
//	4   2     magic 0x5350
//	6   1     format version (1)
//	7   1     type: 1 branch, 2 leaf, 3 overflow, 4 file header
//	8   8     page id (detects misdirected reads and writes)
//
//	off size  branch and leaf pages (slotted)
//	16  2     cell count n
//	18  2     reserved, 0
//	20  4     upper: offset of the lowest cell byte
//	24  4     garbage: bytes in [upper, PageSize) not used by live cells
//	28  4     reserved, 0
//	32  2n    slot array: the u16 offset of each cell, in key order
//	...       free space
//	upper     cells, growing down from the end of the page
//
//	leaf cell:   flags u8 | klen u16 | vlen u32 | key | value, or u64 first overflow page
//	branch cell: flags u8 | klen u16 | child u64 | key [| u64 first overflow page]
//
//	flags: bit 0 (leaf only) the value lives in an overflow chain;
//	       bit 1 big key: only the first L bytes of the key are in
//	       the cell, the rest heads the overflow chain (followed, in a leaf,
//	       by the value).
//
// A branch with n cells has n children; cell 0's key is empty and stands
// for the lower bound of the branch's range. Child i holds the keys k with
// key(i) <= k < key(i+1). Separators are the shortest byte strings that
// divide two leaves, not copies of leaf keys.
//
//	off size  overflow pages
//	16  4     payload bytes in this page
//	24  8     next page of the chain (0: last)
//	32  ...   payload
//
// The file header (page 0) holds the file magic "SOPBTREE" at offset 16
// and the page size (u32) at offset 24; its checksum covers bytes [4, 64).
//
// Size rules: every cell fits in a quarter of the usable page (PageSize-32)
// minus its slot, so a page always holds at least four cells and any
// overfull page splits in two. A value whose cell would exceed that goes to
// an overflow chain; a key longer than L = (PageSize-32)/4 - 21 (2019 bytes with 8 KiB
// pages, 995 with 4 KiB) keeps that prefix locally and the rest in a chain.
// Keys may be up to MaxKeySize (4 KiB), values up to MaxValueSize (16 MiB).
//
// # Invariants (checked by Check)
//
//   - Keys increase strictly within a page and lie within the separators
//     their parent assigns; all leaves are at the same depth.
//   - A non-root leaf holds at least one key; every branch at least two
//     children; a root branch never has one child.
//   - Every page id in [1, high-water) is reachable exactly once, or free.
//   - Each overflow chain is owned by exactly one cell, and its payload
//     lengths add up to the cell's key rest plus value length.
//
// # Errors
//
// Damaged pages (bad checksum, bad magic, a page whose header names another
// id, impossible offsets or lengths, pointers outside the file) return a
// *CorruptError naming the page; errors.Is(err, ErrCorrupt) holds. Input
// errors (ErrKeyTooLarge, ErrValueTooLarge, ErrTreeNotFound, ...) leave the
// state unchanged.
//
// # Memory layout
//
// Scans are fastest when neighbouring leaves sit next to each other in
// memory. Random writes scatter page buffers, so after a burst of writes,
// once the writer has been idle for Options.RelayoutIdle, a background
// goroutine copies the resident pages into fresh slabs in key order
// (Forest.Relayout does it on demand). Readers are not disturbed.
//
// # Concurrency
//
// One batch writes at a time (Begin waits for the previous one); Flush,
// Check and Relayout wait for it too. Readers never block and are never
// blocked by the writer. A Reader or Cursor is used by one goroutine at a
// time.
package btree
