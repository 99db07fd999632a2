package btree

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
)

// Checkpoint is the durable description of a forest that Flush hands back:
// opening the page file with it reproduces exactly the state flushed.
//
// Invariant: every page reachable from Trees, and every id in Free, is below
// HighWater; no id is both.
type Checkpoint struct {
	Version   uint64     // the version flushed
	PageSize  int        // the page file's page size
	HighWater PageID     // ids >= HighWater were never used
	Trees     []TreeRoot // sorted by ID
	Free      []PageID   // sorted ascending: every id in [1, HighWater) no tree references
}

// Encoded checkpoint layout:
//
//	u8       encoding version (1)
//	uvarint  Version, PageSize, HighWater
//	uvarint  number of trees, then per tree: ID, Root, Count
//	uvarint  number of free ids, then the ids delta-encoded (first id, then differences)
//	u32      CRC32C of every preceding byte, little-endian
const checkpointEncoding = 1

// MarshalBinary encodes the checkpoint.
func (cp Checkpoint) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 32+len(cp.Trees)*16+len(cp.Free)*2)
	b = append(b, checkpointEncoding)
	b = binary.AppendUvarint(b, cp.Version)
	b = binary.AppendUvarint(b, uint64(cp.PageSize))
	b = binary.AppendUvarint(b, uint64(cp.HighWater))
	b = binary.AppendUvarint(b, uint64(len(cp.Trees)))
	for _, t := range cp.Trees {
		b = binary.AppendUvarint(b, uint64(t.ID))
		b = binary.AppendUvarint(b, uint64(t.Root))
		b = binary.AppendUvarint(b, t.Count)
	}
	b = binary.AppendUvarint(b, uint64(len(cp.Free)))
	prev := PageID(0)
	for _, id := range cp.Free {
		b = binary.AppendUvarint(b, uint64(id-prev))
		prev = id
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// errCheckpointEncoding marks undecodable checkpoint bytes.
var errCheckpointEncoding = errors.New("btree: bad checkpoint encoding")

// UnmarshalBinary decodes a checkpoint. Damaged or hostile input returns an
// error wrapping ErrCorrupt.
func (cp *Checkpoint) UnmarshalBinary(b []byte) error {
	if len(b) < 5 {
		return fmt.Errorf("%w: checkpoint of %d bytes is too short", ErrCorrupt, len(b))
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return fmt.Errorf("%w: checkpoint checksum mismatch", ErrCorrupt)
	}
	if body[0] != checkpointEncoding {
		return fmt.Errorf("%w: unknown checkpoint encoding %d", ErrCorrupt, body[0])
	}
	d := decoder{b: body[1:]}
	var out Checkpoint
	out.Version = d.uvarint()
	out.PageSize = int(d.count(MaxPageSize))
	out.HighWater = PageID(d.uvarint())
	nt := d.count(uint64(len(d.b)))
	out.Trees = make([]TreeRoot, 0, nt)
	for i := 0; i < int(nt) && d.err == nil; i++ {
		out.Trees = append(out.Trees, TreeRoot{ID: TreeID(d.uvarint()), Root: PageID(d.uvarint()), Count: d.uvarint()})
	}
	nf := d.count(uint64(len(d.b)))
	out.Free = make([]PageID, 0, nf)
	prev := PageID(0)
	for i := 0; i < int(nf) && d.err == nil; i++ {
		prev += PageID(d.uvarint())
		out.Free = append(out.Free, prev)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("%w: decode checkpoint: %v", ErrCorrupt, d.err)
	}
	*cp = out
	return nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCheckpointEncoding
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count decodes a length and rejects one above limit.
func (d *decoder) count(limit uint64) uint64 {
	v := d.uvarint()
	if v > limit && d.err == nil {
		d.err = fmt.Errorf("count %d exceeds %d", v, limit)
	}
	return v
}

// validate checks the checkpoint against a page file with pageSize pages.
func (cp Checkpoint) validate(pageSize int) error {
	if cp.isZero() {
		return nil
	}
	if cp.PageSize != pageSize {
		return fmt.Errorf("%w: checkpoint has %d-byte pages, the file %d", ErrBadCheckpoint, cp.PageSize, pageSize)
	}
	if cp.HighWater < firstDataPage {
		return fmt.Errorf("%w: high-water mark %d", ErrBadCheckpoint, cp.HighWater)
	}
	if !slices.IsSortedFunc(cp.Trees, func(a, b TreeRoot) int { return cmpID(a.ID, b.ID) }) {
		return fmt.Errorf("%w: trees not sorted", ErrBadCheckpoint)
	}
	for i, t := range cp.Trees {
		if t.Root < firstDataPage || t.Root >= cp.HighWater {
			return fmt.Errorf("%w: tree %d root %d outside [1, %d)", ErrBadCheckpoint, t.ID, t.Root, cp.HighWater)
		}
		if i > 0 && cp.Trees[i-1].ID == t.ID {
			return fmt.Errorf("%w: tree %d listed twice", ErrBadCheckpoint, t.ID)
		}
	}
	for i, id := range cp.Free {
		if id < firstDataPage || id >= cp.HighWater || i > 0 && cp.Free[i-1] >= id {
			return fmt.Errorf("%w: free list not strictly increasing within [1, %d) at %d", ErrBadCheckpoint, cp.HighWater, id)
		}
	}
	return nil
}

func (cp Checkpoint) isZero() bool {
	return cp.Version == 0 && cp.HighWater == 0 && len(cp.Trees) == 0 && len(cp.Free) == 0
}

func cmpID[T ~uint64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
