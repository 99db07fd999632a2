package btree

import (
	"bytes"
	"encoding/binary"
)

// node returns branch or leaf page id.
func (f *Forest) node(id PageID) (page, error) {
	p := f.cache.page(id)
	if p == nil {
		e, err := f.entry(id)
		if err != nil {
			return nil, err
		}
		p = e.buf
	}
	if t := p.typ(); t != typeLeaf && t != typeBranch {
		return nil, corruptf(id, "expected a branch or leaf page, found type %d", t)
	}
	return p, nil
}

// cmpCell compares the key of cell c (in page p) with key.
func (f *Forest) cmpCell(p page, c []byte, key []byte) (int, error) {
	r := p.cmpLocal(c, key)
	if r != needFull {
		return r, nil
	}
	full, err := f.fullKey(p, c)
	if err != nil {
		return 0, err
	}
	return bytes.Compare(full, key), nil
}

// searchLeaf returns the index of the first cell whose key is >= key, and
// whether it equals key.
func (f *Forest) searchLeaf(p page, key []byte) (int, bool, error) {
	lo, hi := 0, p.count()
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		off := p.slot(m)
		var r int
		if p[off]&flagBigKey == 0 {
			klen := int(binary.LittleEndian.Uint16(p[off+1:]))
			r = bytes.Compare(p[off+leafCellHeader:off+leafCellHeader+klen], key)
		} else {
			var err error
			if r, err = f.cmpCell(p, p.cell(m), key); err != nil {
				return 0, false, err
			}
		}
		switch {
		case r < 0:
			lo = m + 1
		case r > 0:
			hi = m
		default:
			return m, true, nil
		}
	}
	return lo, false, nil
}

// searchBranch returns the index of the child whose range holds key: the
// last cell whose key is <= key (cell 0 stands for minus infinity).
func (f *Forest) searchBranch(p page, key []byte) (int, error) {
	lo, hi := 1, p.count()
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		off := p.slot(m)
		var r int
		if p[off]&flagBigKey == 0 {
			klen := int(binary.LittleEndian.Uint16(p[off+1:]))
			r = bytes.Compare(p[off+branchCellHeader:off+branchCellHeader+klen], key)
		} else {
			var err error
			if r, err = f.cmpCell(p, p.cell(m), key); err != nil {
				return 0, err
			}
		}
		if r <= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1, nil
}

// childAt returns the child page id of branch cell i.
func (p page) childAt(i int) PageID {
	off := p.slot(i)
	return PageID(binary.LittleEndian.Uint64(p[off+3:]))
}

// get looks key up in the tree rooted at root. The value aliases a page
// unless it was stored in an overflow chain.
func (f *Forest) get(root PageID, key []byte) ([]byte, bool, error) {
	p, err := f.node(root)
	if err != nil {
		return nil, false, err
	}
	for !p.isLeaf() {
		i, err := f.searchBranch(p, key)
		if err != nil {
			return nil, false, err
		}
		if p, err = f.node(p.childAt(i)); err != nil {
			return nil, false, err
		}
	}
	i, found, err := f.searchLeaf(p, key)
	if err != nil || !found {
		return nil, false, err
	}
	v, err := f.value(p, p.cell(i))
	return v, err == nil, err
}

// fullKey returns the whole key of cell c. For a big key it reads the chain.
func (f *Forest) fullKey(p page, c []byte) ([]byte, error) {
	local := p.localKey(c)
	if c[0]&flagBigKey == 0 {
		return local, nil
	}
	klen := cellKlen(c)
	key := make([]byte, len(local), klen)
	copy(key, local)
	return f.readChain(chainOf(c), 0, klen-len(local), key)
}

// value returns the value of leaf cell c.
func (f *Forest) value(p page, c []byte) ([]byte, error) {
	if c[0]&flagOverflow == 0 {
		return inlineValue(c), nil
	}
	skip := 0
	if c[0]&flagBigKey != 0 {
		skip = cellKlen(c) - maxLocalKey(len(p))
	}
	n := leafVlen(c)
	return f.readChain(chainOf(c), skip, n, make([]byte, 0, n))
}

// readChain appends n bytes of the chain starting at id, after skipping
// skip bytes, to dst.
func (f *Forest) readChain(id PageID, skip, n int, dst []byte) ([]byte, error) {
	for n > 0 {
		if id == 0 {
			return nil, corruptf(id, "overflow chain ends %d bytes early", n)
		}
		e, err := f.entry(id)
		if err != nil {
			return nil, err
		}
		p := e.buf
		if p.typ() != typeOverflow {
			return nil, corruptf(id, "expected an overflow page, found type %d", p.typ())
		}
		plen := int(binary.LittleEndian.Uint32(p[16:]))
		data := p[headerSize : headerSize+plen]
		if skip >= len(data) {
			skip -= len(data)
		} else {
			data = data[skip:]
			skip = 0
			take := min(n, len(data))
			dst = append(dst, data[:take]...)
			n -= take
		}
		id = PageID(binary.LittleEndian.Uint64(p[24:]))
	}
	return dst, nil
}

// chainPages lists the pages of the chain starting at id that holds n bytes.
func (f *Forest) chainPages(id PageID, n int, dst []PageID) ([]PageID, error) {
	for n > 0 {
		if id == 0 {
			return nil, corruptf(id, "overflow chain ends %d bytes early", n)
		}
		e, err := f.entry(id)
		if err != nil {
			return nil, err
		}
		p := e.buf
		if p.typ() != typeOverflow {
			return nil, corruptf(id, "expected an overflow page, found type %d", p.typ())
		}
		dst = append(dst, id)
		n -= int(binary.LittleEndian.Uint32(p[16:]))
		id = PageID(binary.LittleEndian.Uint64(p[24:]))
	}
	return dst, nil
}

// chainLen is the number of payload bytes in cell c's chain.
func chainLen(p page, c []byte) int {
	n := 0
	if c[0]&flagBigKey != 0 {
		n = cellKlen(c) - maxLocalKey(len(p))
	}
	if p.typ() == typeLeaf && c[0]&flagOverflow != 0 {
		n += leafVlen(c)
	}
	return n
}
