package btree

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzPage feeds arbitrary bytes to the page decoder. Whatever verify
// accepts must be safe to read with every accessor: no panic, no
// out-of-range slice.
func FuzzPage(f *testing.F) {
	for _, seed := range seedPages() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := make(page, MinPageSize)
		copy(p, data)
		p.sealChecksum() // reach the structural checks, not just the checksum
		if p.verify(7) != nil {
			return
		}
		if p.typ() == typeOverflow {
			return
		}
		for i := 0; i < p.count(); i++ {
			c := p.cell(i)
			_ = p.localKey(c)
			_ = p.cmpLocal(c, []byte("key"))
			if p.isLeaf() && c[0]&flagOverflow == 0 {
				_ = inlineValue(c)
			}
			if c[0]&(flagOverflow|flagBigKey) != 0 {
				_ = chainOf(c)
				_ = chainLen(p, c)
			}
		}
		_ = checkOverlap(p, 7)
	})
}

// seedPages returns real pages: an empty leaf, a leaf with cells, a branch,
// an overflow page.
func seedPages() [][]byte {
	leaf := make(page, MinPageSize)
	leaf.init(typeLeaf, 7)
	empty := bytes.Clone(leaf)
	leaf.insertCell(0, append(appendLeafCell(nil, 0, []byte("key"), 3, 5), "value"...))
	big := appendLeafCell(nil, flagOverflow|flagBigKey, bytes.Repeat([]byte{'k'}, maxLocalKey(MinPageSize)), 3000, 10)
	leaf.insertCell(1, binary.LittleEndian.AppendUint64(big, 9))
	branch := make(page, MinPageSize)
	branch.init(typeBranch, 7)
	branch.insertCell(0, branchCellBytes(nil, 3, 0, 0))
	branch.insertCell(1, branchCellBytes([]byte("m"), 4, 0, 0))
	ovf := make(page, MinPageSize)
	ovf.init(typeOverflow, 7)
	binary.LittleEndian.PutUint32(ovf[16:], 10)
	return [][]byte{empty, leaf, branch, ovf}
}

// FuzzCheckpoint decodes arbitrary bytes as a checkpoint: no panic, and
// what decodes re-encodes to the same bytes.
func FuzzCheckpoint(f *testing.F) {
	cp := Checkpoint{Version: 9, PageSize: 8192, HighWater: 40, Trees: []TreeRoot{{1, 5, 100}, {4, 9, 0}}, Free: []PageID{2, 3, 17}}
	b, _ := cp.MarshalBinary()
	f.Add(b)
	f.Add([]byte{})
	f.Add(b[:len(b)-1])
	f.Fuzz(func(t *testing.T, data []byte) {
		var got Checkpoint
		if got.UnmarshalBinary(data) != nil {
			return
		}
		again, err := got.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("decoded checkpoint re-encodes differently")
		}
		_ = got.validate(got.PageSize)
	})
}

// FuzzFileHeader parses arbitrary page-file headers.
func FuzzFileHeader(f *testing.F) {
	h := make([]byte, MinPageSize)
	fillFileHeader(h, 8192)
	f.Add(h[:headerCheckLen])
	f.Fuzz(func(t *testing.T, data []byte) {
		b := make([]byte, headerCheckLen)
		copy(b, data)
		_, _ = parseFileHeader(b)
	})
}

func TestCheckpointRoundTrip(t *testing.T) {
	cp := Checkpoint{Version: 1 << 40, PageSize: 4096, HighWater: 1 << 33, Trees: []TreeRoot{{0, 1, 0}, {1 << 60, 77, 1 << 50}}, Free: []PageID{1, 2, 1 << 32}}
	b, _ := cp.MarshalBinary()
	var got Checkpoint
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	again, _ := got.MarshalBinary()
	if !bytes.Equal(b, again) || got.Version != cp.Version || len(got.Free) != 3 || got.Trees[1].Count != 1<<50 {
		t.Fatalf("round trip changed the checkpoint: %+v", got)
	}
	b[3] ^= 1
	if err := got.UnmarshalBinary(b); err == nil {
		t.Fatal("a damaged checkpoint decoded")
	}
}
