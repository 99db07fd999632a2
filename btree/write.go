package btree

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

func checkKV(key, value []byte) error {
	if len(key) > MaxKeySize {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrKeyTooLarge, len(key), MaxKeySize)
	}
	if len(value) > MaxValueSize {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrValueTooLarge, len(value), MaxValueSize)
	}
	return nil
}

// Put sets key to value in tree. key and value are copied.
func (b *Batch) Put(tree TreeID, key, value []byte) error {
	if err := checkKV(key, value); err != nil {
		return err
	}
	t, err := b.tree(tree)
	if err != nil {
		return err
	}
	path, found, err := b.descend(t.Root, key)
	if err != nil {
		return err
	}
	if err := b.cowPath(&t, path); err != nil {
		return err
	}
	L := len(path) - 1
	leaf := b.ownedPage(path[L].id)
	idx := path[L].idx
	if found && b.overwriteInPlace(leaf, idx, key, value) {
		b.setTree(t)
		return nil
	}
	cell, err := b.leafCell(key, value)
	if err != nil {
		return err
	}
	if found {
		if err := b.freeChainOf(leaf, leaf.cell(idx)); err != nil {
			return err
		}
		leaf.removeCell(idx)
	} else {
		t.Count++
	}
	if err := b.insertCell(&t, path, L, idx, cell); err != nil {
		return err
	}
	b.setTree(t)
	return nil
}

// overwriteInPlace replaces an inline value with one of the same length.
func (b *Batch) overwriteInPlace(leaf page, idx int, key, value []byte) bool {
	c := leaf.cell(idx)
	if c[0] != 0 || leafVlen(c) != len(value) {
		return false
	}
	copy(c[leafCellHeader+len(key):], value)
	return true
}

// Delete removes key from tree and reports whether it was there.
func (b *Batch) Delete(tree TreeID, key []byte) (bool, error) {
	if len(key) > MaxKeySize {
		return false, nil
	}
	t, err := b.tree(tree)
	if err != nil {
		return false, err
	}
	path, found, err := b.descend(t.Root, key)
	if err != nil || !found {
		return false, err
	}
	if err := b.cowPath(&t, path); err != nil {
		return false, err
	}
	L := len(path) - 1
	leaf := b.ownedPage(path[L].id)
	if err := b.freeChainOf(leaf, leaf.cell(path[L].idx)); err != nil {
		return false, err
	}
	leaf.removeCell(path[L].idx)
	t.Count--
	if err := b.rebalance(&t, path, L); err != nil {
		return false, err
	}
	b.setTree(t)
	return true, nil
}

// insertCell inserts cell at index i of the writable page at path[L],
// splitting it (and its ancestors) when it does not fit. cell must not alias
// any page; it is copied and not retained.
func (b *Batch) insertCell(t *TreeRoot, path []frame, L, i int, cell []byte) error {
	p := b.ownedPage(path[L].id)
	if p.free() >= len(cell)+slotSize {
		p.insertCell(i, cell)
		return nil
	}
	cells := p.cells(make([][]byte, 0, p.count()+1))
	cells = append(cells[:i], append([][]byte{cell}, cells[i:]...)...)
	return b.split(t, path, L, cells, i)
}

// split writes cells, which overflow one page, into the page at path[L] and
// a new right sibling, and inserts the sibling into the parent.
func (b *Batch) split(t *TreeRoot, path []frame, L int, cells [][]byte, inserted int) error {
	pid := path[L].id
	p := b.ownedPage(pid)
	k := splitPoint(cells, usable(len(p)), !p.isLeaf(), b.edge(path, L, inserted, len(cells)))
	rid, rp := b.allocPage()
	rp.init(p.typ(), rid)
	sep, err := b.promote(p, cells, k, rid)
	if err != nil {
		return err
	}
	rp.build(cells[k:], b.f.scratch)
	p.build(cells[:k], b.f.scratch)
	if L == 0 {
		nid, np := b.allocPage()
		np.init(typeBranch, nid)
		np.build([][]byte{branchCellBytes(nil, pid, 0, 0), sep}, b.f.scratch)
		t.Root = nid
		return nil
	}
	return b.insertCell(t, path, L-1, path[L-1].idx+1, sep)
}

// promote returns the parent cell for a new right sibling rid holding
// cells[k:]. For branches the first right cell's key moves up and that cell
// keeps only its child (cells[k] is replaced).
func (b *Batch) promote(p page, cells [][]byte, k int, rid PageID) ([]byte, error) {
	if p.isLeaf() {
		sep, err := b.separator(p, cells[k-1], cells[k])
		if err != nil {
			return nil, err
		}
		return b.branchCell(sep, rid)
	}
	up := bytes.Clone(cells[k])
	setBranchChild(up, rid)
	cells[k] = branchCellBytes(nil, branchChild(cells[k]), 0, 0)
	return up, nil
}

// edge tells splitPoint whether the insert happened at the right (1) or left
// (-1) end of the whole tree, where sequential loads should leave full pages.
func (b *Batch) edge(path []frame, L, inserted, n int) int {
	right, left := inserted == n-1, inserted == 0
	for l := 0; l < L && (right || left); l++ {
		p := b.ownedPage(path[l].id)
		right = right && path[l].idx == p.count()-1
		left = left && path[l].idx == 0
	}
	switch {
	case right:
		return 1
	case left:
		return -1
	}
	return 0
}

// splitPoint picks k so that cells[:k] and cells[k:] each fit in a page of
// usable bytes. At a tree edge the new cell goes alone to its side; elsewhere
// the halves are balanced by size. Branch halves keep at least two cells.
func splitPoint(cells [][]byte, usable int, branch bool, edge int) int {
	n := len(cells)
	minCells := 1
	if branch {
		minCells = 2
	}
	if edge == 1 && n-1 >= minCells && cellsSize(cells[:n-1]) <= usable && !branch {
		return n - 1
	}
	if edge == -1 && n-1 >= minCells && cellsSize(cells[1:]) <= usable && !branch {
		return 1
	}
	half := cellsSize(cells) / 2
	k, acc := 0, 0
	for k < n && acc+len(cells[k])+slotSize <= half {
		acc += len(cells[k]) + slotSize
		k++
	}
	return min(max(k, minCells), n-minCells)
}

// separator returns the shortest key s with left < s <= right, where left
// and right are the keys of leaf cells lc < rc.
func (b *Batch) separator(p page, lc, rc []byte) ([]byte, error) {
	lk, err := b.f.fullKey(p, lc)
	if err != nil {
		return nil, err
	}
	rk, err := b.f.fullKey(p, rc)
	if err != nil {
		return nil, err
	}
	return shortestSeparator(lk, rk), nil
}

func shortestSeparator(lk, rk []byte) []byte {
	n := 0
	for n < len(lk) && n < len(rk) && lk[n] == rk[n] {
		n++
	}
	return bytes.Clone(rk[:n+1])
}

// rebalance restores the fill rules of the page at path[L] after it lost
// cells: an underfull page merges with a sibling when both fit in one page,
// an empty leaf or a branch with one child borrows, and a root branch with a
// single child is replaced by that child.
func (b *Batch) rebalance(t *TreeRoot, path []frame, L int) error {
	p := b.ownedPage(path[L].id)
	if L == 0 {
		return b.collapseRoot(t, p)
	}
	if !underfull(p) {
		return nil
	}
	pp := b.ownedPage(path[L-1].id)
	if pp.count() < 2 {
		return nil
	}
	li := max(path[L-1].idx-1, 0)
	_, lp, err := b.writableChild(pp, li)
	if err != nil {
		return err
	}
	rid, rp, err := b.writableChild(pp, li+1)
	if err != nil {
		return err
	}
	cells := b.siblingCells(pp, li+1, lp, rp)
	if cellsSize(cells) <= usable(len(p)) {
		return b.merge(t, path, L, pp, li+1, lp, rid, cells)
	}
	if !critical(lp) && !critical(rp) {
		return nil
	}
	return b.redistribute(t, path, L, pp, li+1, lp, rp, rid, cells)
}

func underfull(p page) bool { return p.used() < usable(len(p))/4 || critical(p) }

func critical(p page) bool {
	if p.isLeaf() {
		return p.count() == 0
	}
	return p.count() < 2
}

// siblingCells concatenates the cells of siblings lp and rp (child ri of pp).
// For branches the parent's separator moves down onto rp's first child.
func (b *Batch) siblingCells(pp page, ri int, lp, rp page) [][]byte {
	cells := lp.cells(make([][]byte, 0, lp.count()+rp.count()))
	if lp.isLeaf() {
		return rp.cells(cells)
	}
	down := bytes.Clone(pp.cell(ri))
	setBranchChild(down, rp.childAt(0))
	cells = append(cells, down)
	for i := 1; i < rp.count(); i++ {
		cells = append(cells, rp.cell(i))
	}
	return cells
}

// merge moves every cell into lp, frees the right sibling and removes its
// parent cell.
func (b *Batch) merge(t *TreeRoot, path []frame, L int, pp page, ri int, lp page, rid PageID, cells [][]byte) error {
	lp.build(cells, b.f.scratch)
	b.freePage(rid)
	if lp.isLeaf() {
		if err := b.freeChainOf(pp, pp.cell(ri)); err != nil {
			return err
		}
	}
	pp.removeCell(ri)
	return b.rebalance(t, path, L-1)
}

// redistribute splits the siblings' cells evenly between them and replaces
// the right sibling's parent cell.
func (b *Batch) redistribute(t *TreeRoot, path []frame, L int, pp page, ri int, lp, rp page, rid PageID, cells [][]byte) error {
	for i, c := range cells {
		cells[i] = bytes.Clone(c)
	}
	k := splitPoint(cells, usable(len(lp)), !lp.isLeaf(), 0)
	sep, err := b.promote(lp, cells, k, rid)
	if err != nil {
		return err
	}
	if lp.isLeaf() {
		if err := b.freeChainOf(pp, pp.cell(ri)); err != nil {
			return err
		}
	}
	rp.build(cells[k:], b.f.scratch)
	lp.build(cells[:k], b.f.scratch)
	pp.removeCell(ri)
	return b.insertCell(t, path, L-1, ri, sep)
}

// collapseRoot replaces a root branch with a single child by that child.
func (b *Batch) collapseRoot(t *TreeRoot, p page) error {
	for !p.isLeaf() && p.count() == 1 {
		child := p.childAt(0)
		b.freePage(t.Root)
		t.Root = child
		var err error
		if p, err = b.f.node(child); err != nil {
			return err
		}
	}
	return nil
}

// leafCell encodes a leaf cell, writing an overflow chain when the value (or
// the key) is too long to keep in the page.
func (b *Batch) leafCell(key, value []byte) ([]byte, error) {
	ps := b.f.psize
	local := maxLocalKey(ps)
	c := b.cellBuf[:0]
	switch {
	case len(key) <= local && leafCellHeader+len(key)+len(value) <= maxCell(ps):
		c = appendLeafCell(c, 0, key, len(key), len(value))
		c = append(c, value...)
	case len(key) <= local:
		c = appendLeafCell(c, flagOverflow, key, len(key), len(value))
		c = binary.LittleEndian.AppendUint64(c, uint64(b.writeChain(value)))
	default:
		c = appendLeafCell(c, flagOverflow|flagBigKey, key[:local], len(key), len(value))
		c = binary.LittleEndian.AppendUint64(c, uint64(b.writeChain(key[local:], value)))
	}
	b.cellBuf = c
	return c, nil
}

func appendLeafCell(c []byte, flags byte, localKey []byte, klen, vlen int) []byte {
	c = append(c, flags)
	c = binary.LittleEndian.AppendUint16(c, uint16(klen))
	c = binary.LittleEndian.AppendUint32(c, uint32(vlen))
	return append(c, localKey...)
}

// branchCell encodes a branch cell pointing at child, writing a chain for
// the rest of a big key.
func (b *Batch) branchCell(key []byte, child PageID) ([]byte, error) {
	local := maxLocalKey(b.f.psize)
	if len(key) <= local {
		return branchCellBytes(key, child, 0, 0), nil
	}
	id := b.writeChain(key[local:])
	c := branchCellBytes(key[:local], child, flagBigKey, len(key))
	return binary.LittleEndian.AppendUint64(c, uint64(id)), nil
}

func branchCellBytes(localKey []byte, child PageID, flags byte, klen int) []byte {
	if klen == 0 {
		klen = len(localKey)
	}
	c := make([]byte, branchCellHeader, branchCellHeader+len(localKey)+8)
	c[0] = flags
	binary.LittleEndian.PutUint16(c[1:], uint16(klen))
	binary.LittleEndian.PutUint64(c[3:], uint64(child))
	return append(c, localKey...)
}

// writeChain stores the concatenation of parts in new overflow pages and
// returns the first page's id.
func (b *Batch) writeChain(parts ...[]byte) PageID {
	capacity := overflowCap(b.f.psize)
	total := 0
	for _, part := range parts {
		total += len(part)
	}
	n := (total + capacity - 1) / capacity
	ids := make([]PageID, n)
	pages := make([]page, n)
	for i := range ids {
		ids[i], pages[i] = b.allocPage()
	}
	pi, off := 0, 0
	for i, p := range pages {
		p.init(typeOverflow, ids[i])
		if i+1 < n {
			binary.LittleEndian.PutUint64(p[24:], uint64(ids[i+1]))
		}
		w := 0
		for w < capacity && pi < len(parts) {
			m := copy(p[headerSize+w:], parts[pi][off:])
			w += m
			if off += m; off == len(parts[pi]) {
				pi, off = pi+1, 0
			}
		}
		binary.LittleEndian.PutUint32(p[16:], uint32(w))
		clear(p[headerSize+w:])
	}
	return ids[0]
}

// freeChainOf frees the overflow chain cell c (of page p) owns, if any.
func (b *Batch) freeChainOf(p page, c []byte) error {
	if c[0]&(flagOverflow|flagBigKey) == 0 {
		return nil
	}
	ids, err := b.f.chainPages(chainOf(c), chainLen(p, c), nil)
	if err != nil {
		return err
	}
	for _, id := range ids {
		b.freePage(id)
	}
	return nil
}
