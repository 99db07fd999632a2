package btree

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Page layout (all integers little-endian). See the package documentation and
// docs/FORMAT.md for the full description.
//
//	off size field
//	0   4    checksum: CRC32C (Castagnoli) of bytes [4, pageSize)
//	4   2    magic 0x5350 ("PS" on disk)
//	6   1    format version (1)
//	7   1    type: 1 branch, 2 leaf, 3 overflow, 4 file header
//	8   8    page id (the page's own index in the file)
//	branch and leaf pages:
//	16  2    cell count n
//	18  2    reserved (0)
//	20  4    upper: offset of the lowest cell byte; cells grow down from the page end
//	24  4    garbage: bytes between upper and the page end not used by any live cell
//	28  4    reserved (0)
//	32  2*n  slot array: u16 offset of each cell, in key order
//	overflow pages:
//	16  4    payload length in this page
//	24  8    next overflow page id (0: last)
//	32  ...  payload
const (
	headerSize    = 32
	slotSize      = 2
	pageMagic     = 0x5350
	formatVersion = 1
)

const (
	typeBranch   = 1
	typeLeaf     = 2
	typeOverflow = 3
	typeHeader   = 4
)

// Cell flags.
const (
	flagOverflow = 1 << 0 // leaf: the value (or key rest + value) lives in an overflow chain
	flagBigKey   = 1 << 1 // the key is longer than maxLocalKey: a prefix is stored locally, the rest in a chain
)

// Leaf cell:   flags u8 | klen u16 | vlen u32 | local key | inline value, or u64 chain id
// Branch cell: flags u8 | klen u16 | child u64 | local key | u64 chain id when flagBigKey
const (
	leafCellHeader   = 7
	branchCellHeader = 11
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// page is one page's bytes. Published pages are immutable.
type page []byte

func (p page) typ() byte        { return p[7] }
func (p page) id() PageID       { return PageID(binary.LittleEndian.Uint64(p[8:])) }
func (p page) count() int       { return int(binary.LittleEndian.Uint16(p[16:])) }
func (p page) upper() int       { return int(binary.LittleEndian.Uint32(p[20:])) }
func (p page) garbage() int     { return int(binary.LittleEndian.Uint32(p[24:])) }
func (p page) slot(i int) int   { return int(binary.LittleEndian.Uint16(p[headerSize+slotSize*i:])) }
func (p page) isLeaf() bool     { return p[7] == typeLeaf }
func (p page) setCount(n int)   { binary.LittleEndian.PutUint16(p[16:], uint16(n)) }
func (p page) setUpper(u int)   { binary.LittleEndian.PutUint32(p[20:], uint32(u)) }
func (p page) setGarbage(g int) { binary.LittleEndian.PutUint32(p[24:], uint32(g)) }
func (p page) setSlot(i, off int) {
	binary.LittleEndian.PutUint16(p[headerSize+slotSize*i:], uint16(off))
}

// init formats p as an empty page of the given type and id.
func (p page) init(typ byte, id PageID) {
	clear(p[:headerSize])
	binary.LittleEndian.PutUint16(p[4:], pageMagic)
	p[6] = formatVersion
	p[7] = typ
	binary.LittleEndian.PutUint64(p[8:], uint64(id))
	if typ == typeBranch || typ == typeLeaf {
		p.setUpper(len(p))
	}
}

func (p page) setID(id PageID) { binary.LittleEndian.PutUint64(p[8:], uint64(id)) }

// free is the contiguous space between the slot array and the cells.
func (p page) free() int { return p.upper() - headerSize - slotSize*p.count() }

// used is the number of bytes live cells and their slots take.
func (p page) used() int {
	return len(p) - p.upper() - p.garbage() + slotSize*p.count()
}

// sealChecksum stores the page checksum; done just before the page is written.
func (p page) sealChecksum() {
	binary.LittleEndian.PutUint32(p[0:], crc32.Checksum(p[4:], castagnoli))
}

// cell returns the bytes of cell i.
func (p page) cell(i int) []byte {
	off := p.slot(i)
	return p[off : off+cellSize(p.typ(), p[off:], len(p))]
}

// cellSize is the encoded size of the cell at the start of c in a page of
// the given type and size. c must hold a validated cell.
func cellSize(typ byte, c []byte, pageSize int) int {
	flags := c[0]
	klen := int(binary.LittleEndian.Uint16(c[1:]))
	local := klen
	if flags&flagBigKey != 0 {
		local = maxLocalKey(pageSize)
	}
	if typ == typeBranch {
		n := branchCellHeader + local
		if flags&flagBigKey != 0 {
			n += 8
		}
		return n
	}
	if flags&flagOverflow != 0 {
		return leafCellHeader + local + 8
	}
	return leafCellHeader + local + int(binary.LittleEndian.Uint32(c[3:]))
}

// Limits derived from the page size. Every cell fits in maxCell bytes, so any
// page holds at least four cells and any split of an overfull page into two
// halves succeeds.
func usable(pageSize int) int      { return pageSize - headerSize }
func maxCell(pageSize int) int     { return usable(pageSize)/4 - slotSize }
func maxLocalKey(pageSize int) int { return maxCell(pageSize) - branchCellHeader - 8 }
func overflowCap(pageSize int) int { return pageSize - headerSize }

// cellKlen and friends decode a cell given its bytes.
func cellKlen(c []byte) int { return int(binary.LittleEndian.Uint16(c[1:])) }

// localKey returns the locally stored key bytes (the whole key unless
// flagBigKey is set, then a prefix of maxLocalKey bytes).
func (p page) localKey(c []byte) []byte {
	klen := cellKlen(c)
	if c[0]&flagBigKey != 0 {
		klen = maxLocalKey(len(p))
	}
	h := leafCellHeader
	if p.typ() == typeBranch {
		h = branchCellHeader
	}
	return c[h : h+klen]
}

// chainOf returns the overflow chain id stored at the end of a cell.
func chainOf(c []byte) PageID {
	return PageID(binary.LittleEndian.Uint64(c[len(c)-8:]))
}

// child returns the child page id of branch cell c.
func branchChild(c []byte) PageID { return PageID(binary.LittleEndian.Uint64(c[3:])) }

func setBranchChild(c []byte, id PageID) { binary.LittleEndian.PutUint64(c[3:], uint64(id)) }

// leafVlen is the full value length of leaf cell c.
func leafVlen(c []byte) int { return int(binary.LittleEndian.Uint32(c[3:])) }

// inlineValue returns the inline value of a leaf cell without overflow.
func inlineValue(c []byte) []byte {
	klen := cellKlen(c)
	return c[leafCellHeader+klen:]
}

// cmpLocal compares cell c's key against key using only local bytes. It
// returns needFull when the answer depends on the part of a big key that
// lives in its chain.
const needFull = 2

func (p page) cmpLocal(c []byte, key []byte) int {
	local := p.localKey(c)
	if c[0]&flagBigKey == 0 {
		return bytes.Compare(local, key)
	}
	if len(key) <= len(local) {
		if r := bytes.Compare(local[:len(key)], key); r != 0 {
			return r
		}
		return 1 // the cell's key is longer than key and starts with it
	}
	if r := bytes.Compare(local, key[:len(local)]); r != 0 {
		return r
	}
	return needFull
}

// Pages this package writes keep their cells contiguous from upper to the
// page end and in key order at ascending addresses (garbage stays 0), so a
// scan reads memory sequentially and copying a page is one memmove. Pages
// with garbage (allowed by the format) are compacted before they change.

// insertCell inserts encoded cell c at slot index i, shifting the cells
// with smaller keys down. The caller has checked that free() >=
// len(c)+slotSize and that the page has no garbage.
func (p page) insertCell(i int, c []byte) {
	n, up, size := p.count(), p.upper(), len(c)
	x := len(p)
	if i < n {
		x = p.slot(i)
	}
	copy(p[up-size:], p[up:x])
	copy(p[x-size:x], c)
	s := headerSize + slotSize*i
	copy(p[s+slotSize:headerSize+slotSize*(n+1)], p[s:headerSize+slotSize*n])
	for k := 0; k < i; k++ {
		p.setSlot(k, p.slot(k)-size)
	}
	p.setSlot(i, x-size)
	p.setCount(n + 1)
	p.setUpper(up - size)
}

// removeCell removes cell i, shifting the cells with smaller keys up. The
// page must have no garbage.
func (p page) removeCell(i int) {
	n, up := p.count(), p.upper()
	off := p.slot(i)
	size := len(p.cell(i))
	copy(p[up+size:off+size], p[up:off])
	for k := 0; k < i; k++ {
		p.setSlot(k, p.slot(k)+size)
	}
	s := headerSize + slotSize*i
	copy(p[s:], p[s+slotSize:headerSize+slotSize*n])
	p.setCount(n - 1)
	p.setUpper(up + size)
}

// cellsSize is the page space cells need, slots included.
func cellsSize(cells [][]byte) int {
	n := 0
	for _, c := range cells {
		n += len(c) + slotSize
	}
	return n
}

// build rewrites p to hold exactly cells, in order, with no garbage. The
// cells are laid out in key order at ascending addresses, so scans read
// memory sequentially. cells may alias p: they are staged through scratch
// (at least one page long).
func (p page) build(cells [][]byte, scratch []byte) {
	s := page(scratch[:len(p)])
	copy(s[:headerSize], p[:headerSize])
	off := len(s) - cellsSize(cells) + slotSize*len(cells)
	s.setUpper(off)
	for i, c := range cells {
		copy(s[off:], c)
		s.setSlot(i, off)
		off += len(c)
	}
	s.setCount(len(cells))
	s.setGarbage(0)
	n := headerSize + slotSize*len(cells)
	copy(p[:n], s[:n])
	copy(p[s.upper():], s[s.upper():])
}

// compactFrom writes src's header and cells into p (a different buffer)
// the way build lays them out. Cells already adjacent in key order are
// copied as one block, so compacting an ordered page costs one copy.
func (p page) compactFrom(src page) {
	copy(p[:headerSize], src[:headerSize])
	n := src.count()
	off := len(p) - (src.used() - slotSize*n)
	p.setUpper(off)
	for i := 0; i < n; {
		start := src.slot(i)
		end := start + len(src.cell(i))
		j := i + 1
		for ; j < n && src.slot(j) == end; j++ {
			end += len(src.cell(j))
		}
		copy(p[off:], src[start:end])
		for k := i; k < j; k++ {
			p.setSlot(k, off+src.slot(k)-start)
		}
		off += end - start
		i = j
	}
	p.setGarbage(0)
}

// cells returns the cells of p in order; the slices alias p.
func (p page) cells(dst [][]byte) [][]byte {
	n := p.count()
	for i := 0; i < n; i++ {
		dst = append(dst, p.cell(i))
	}
	return dst
}

// verify checks that a page read from disk is intact and structurally sound,
// so that no later access can go out of bounds. It returns an error wrapping
// ErrCorrupt naming the page.
func (p page) verify(want PageID) error {
	if got, sum := binary.LittleEndian.Uint32(p[0:]), crc32.Checksum(p[4:], castagnoli); got != sum {
		return corruptf(want, "checksum mismatch (stored %08x, computed %08x)", got, sum)
	}
	return p.verifyStructure(want)
}

func (p page) verifyStructure(want PageID) error {
	if m := binary.LittleEndian.Uint16(p[4:]); m != pageMagic {
		return corruptf(want, "bad magic %#04x", m)
	}
	if p[6] != formatVersion {
		return corruptf(want, "unsupported format version %d", p[6])
	}
	if p.id() != want {
		return corruptf(want, "page header names id %d", p.id())
	}
	switch p.typ() {
	case typeBranch, typeLeaf:
		return p.verifyCells(want)
	case typeOverflow:
		if n := binary.LittleEndian.Uint32(p[16:]); n == 0 || int(n) > overflowCap(len(p)) {
			return corruptf(want, "overflow payload length %d outside [1, %d]", n, overflowCap(len(p)))
		}
		return nil
	default:
		return corruptf(want, "unknown page type %d", p.typ())
	}
}

func (p page) verifyCells(want PageID) error {
	n, upper := p.count(), p.upper()
	if upper > len(p) || upper < headerSize+slotSize*n {
		return corruptf(want, "cell area start %d impossible for %d cells", upper, n)
	}
	live := 0
	for i := 0; i < n; i++ {
		off := p.slot(i)
		if off < upper || off+branchCellHeader > len(p) && p.typ() == typeBranch || off+leafCellHeader > len(p) {
			return corruptf(want, "cell %d offset %d out of bounds", i, off)
		}
		c := p[off:]
		if c[0]&^(flagOverflow|flagBigKey) != 0 || p.typ() == typeBranch && c[0]&flagOverflow != 0 {
			return corruptf(want, "cell %d has unknown flags %#x", i, c[0])
		}
		klen := cellKlen(c)
		if klen > MaxKeySize || (c[0]&flagBigKey != 0) != (klen > maxLocalKey(len(p))) {
			return corruptf(want, "cell %d key length %d inconsistent with its flags", i, klen)
		}
		if p.typ() == typeLeaf && leafVlen(c) > MaxValueSize {
			return corruptf(want, "cell %d value length %d exceeds the maximum", i, leafVlen(c))
		}
		size := cellSize(p.typ(), c, len(p))
		if off+size > len(p) {
			return corruptf(want, "cell %d (offset %d, size %d) runs past the page end", i, off, size)
		}
		live += size
	}
	if live+p.garbage() != len(p)-upper {
		return corruptf(want, "cell bytes %d + garbage %d do not fill the cell area %d", live, p.garbage(), len(p)-upper)
	}
	return nil
}

func corruptf(id PageID, format string, args ...any) error {
	return &CorruptError{Page: id, Reason: fmt.Sprintf(format, args...)}
}

func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
