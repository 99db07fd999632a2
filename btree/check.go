package btree

import (
	"bytes"
	"fmt"
	"slices"
)

// Check walks every page of the current version and verifies the B+tree
// invariants: page checksums (re-read from disk for pages already written),
// structure, key order within and across pages, separator bounds, equal
// leaf depth, the minimum fill (a non-root leaf holds a key, a branch two
// children), overflow chain lengths and links, tree counts, and that every
// page id below the high-water mark is exactly one of: reachable once, or
// free. It waits for an open batch to end. Violations wrap ErrCorrupt.
func (f *Forest) Check() error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if f.closed.Load() {
		return ErrClosed
	}
	c := checker{f: f, seen: map[PageID]TreeID{}, buf: make(page, f.psize)}
	for _, t := range sortedTrees(f.cur.Load().trees) {
		c.tree, c.leafDepth = t.ID, -1
		n, err := c.walk(t.Root, nil, nil, 0, true)
		if err != nil {
			return fmt.Errorf("check tree %d: %w", t.ID, err)
		}
		if n != t.Count {
			return corruptf(t.Root, "tree %d holds %d keys, its root record says %d", t.ID, n, t.Count)
		}
	}
	if err := c.space(); err != nil {
		return err
	}
	return f.cache.check()
}

type checker struct {
	f         *Forest
	tree      TreeID
	seen      map[PageID]TreeID
	leafDepth int
	buf       page
}

// visit records a reachable page and checks its on-disk copy when it has one.
func (c *checker) visit(id PageID) error {
	if id < firstDataPage || id >= c.f.alloc.hw {
		return corruptf(id, "pointer outside [1, %d)", c.f.alloc.hw)
	}
	if t, dup := c.seen[id]; dup {
		return corruptf(id, "page reachable twice (trees %d and %d)", t, c.tree)
	}
	c.seen[id] = c.tree
	e, err := c.f.entry(id)
	if err != nil {
		return err
	}
	if e.state != stateClean {
		return nil
	}
	if err := c.f.pf.read(id, c.buf); err != nil {
		return err
	}
	if !bytes.Equal(c.buf[4:], e.buf[4:]) {
		return corruptf(id, "cached page differs from its on-disk copy")
	}
	return nil
}

// walk checks the subtree at id whose keys must lie in [lo, hi) (nil: open)
// and returns its key count.
func (c *checker) walk(id PageID, lo, hi []byte, depth int, root bool) (uint64, error) {
	if err := c.visit(id); err != nil {
		return 0, err
	}
	p, err := c.f.node(id)
	if err != nil {
		return 0, err
	}
	if err := p.verifyStructure(id); err != nil {
		return 0, err
	}
	if err := checkLayout(p, id); err != nil {
		return 0, err
	}
	keys, err := c.keys(p, id)
	if err != nil {
		return 0, err
	}
	if err := checkOrder(id, keys, lo, hi, p.isLeaf()); err != nil {
		return 0, err
	}
	if p.isLeaf() {
		return c.leaf(p, id, depth, root)
	}
	return c.branch(p, id, keys, lo, hi, depth)
}

func (c *checker) leaf(p page, id PageID, depth int, root bool) (uint64, error) {
	if c.leafDepth >= 0 && depth != c.leafDepth {
		return 0, corruptf(id, "leaf at depth %d, others at %d", depth, c.leafDepth)
	}
	c.leafDepth = depth
	if !root && p.count() == 0 {
		return 0, corruptf(id, "empty non-root leaf")
	}
	return uint64(p.count()), nil
}

func (c *checker) branch(p page, id PageID, keys [][]byte, lo, hi []byte, depth int) (uint64, error) {
	if p.count() < 2 {
		return 0, corruptf(id, "branch with %d children", p.count())
	}
	if first := p.cell(0); first[0] != 0 || cellKlen(first) != 0 {
		return 0, corruptf(id, "first branch cell carries a key")
	}
	var total uint64
	for i := 0; i < p.count(); i++ {
		clo, chi := lo, hi
		if i > 0 {
			clo = keys[i]
		}
		if i+1 < p.count() {
			chi = keys[i+1]
		}
		n, err := c.walk(p.childAt(i), clo, chi, depth+1, false)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// keys returns the full key of every cell (cell 0 of a branch: nil), after
// checking each overflow chain.
func (c *checker) keys(p page, id PageID) ([][]byte, error) {
	keys := make([][]byte, p.count())
	for i := range keys {
		cell := p.cell(i)
		if err := c.chain(p, cell); err != nil {
			return nil, err
		}
		if !p.isLeaf() && i == 0 {
			continue
		}
		k, err := c.f.fullKey(p, cell)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	return keys, nil
}

// chain checks the overflow chain of a cell: every page reachable once,
// lengths adding up exactly, the last link empty.
func (c *checker) chain(p page, cell []byte) error {
	want := chainLen(p, cell)
	if cell[0]&(flagOverflow|flagBigKey) == 0 {
		return nil
	}
	id, got := chainOf(cell), 0
	for id != 0 {
		if err := c.visit(id); err != nil {
			return err
		}
		e, _ := c.f.entry(id)
		q := e.buf
		if q.typ() != typeOverflow {
			return corruptf(id, "chain page has type %d", q.typ())
		}
		if err := q.verifyStructure(id); err != nil {
			return err
		}
		got += int(le32(q[16:]))
		id = PageID(le64(q[24:]))
	}
	if got != want {
		return corruptf(chainOf(cell), "chain holds %d bytes, its cell says %d", got, want)
	}
	return nil
}

// checkOrder verifies that keys increase strictly and lie in [lo, hi).
func checkOrder(id PageID, keys [][]byte, lo, hi []byte, leaf bool) error {
	first := 0
	if !leaf {
		first = 1 // a branch's cell 0 stands for lo
	}
	for i := first; i < len(keys); i++ {
		k := keys[i]
		if i > first && bytes.Compare(keys[i-1], k) >= 0 {
			return corruptf(id, "keys %d and %d out of order", i-1, i)
		}
		below := lo != nil && bytes.Compare(k, lo) < 0 || !leaf && lo != nil && bytes.Equal(k, lo)
		if below || hi != nil && bytes.Compare(k, hi) >= 0 {
			return corruptf(id, "key %d (%q) outside its parent's range", i, k)
		}
	}
	return nil
}

// checkLayout verifies that a page without garbage keeps its cells
// contiguous and in key order, as every page this package writes does.
func checkLayout(p page, id PageID) error {
	if p.garbage() != 0 {
		return checkOverlap(p, id)
	}
	off := p.upper()
	for i := 0; i < p.count(); i++ {
		if p.slot(i) != off {
			return corruptf(id, "cell %d at offset %d, expected %d: cells not contiguous in key order", i, p.slot(i), off)
		}
		off += len(p.cell(i))
	}
	if off != len(p) {
		return corruptf(id, "cells end at %d, not at the page end", off)
	}
	return nil
}

// checkOverlap verifies that no two cells share bytes.
func checkOverlap(p page, id PageID) error {
	type span struct{ off, end int }
	spans := make([]span, p.count())
	for i := range spans {
		off := p.slot(i)
		spans[i] = span{off, off + len(p.cell(i))}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.off - b.off })
	for i := 1; i < len(spans); i++ {
		if spans[i-1].end > spans[i].off {
			return corruptf(id, "cells at offsets %d and %d overlap", spans[i-1].off, spans[i].off)
		}
	}
	return nil
}

// space checks that every id below the high-water mark is reachable or
// free, never both, and free at most once.
func (c *checker) space() error {
	a := c.f.alloc
	free := a.unreachable()
	for i, id := range free {
		if id < firstDataPage || id >= a.hw {
			return corruptf(id, "free page outside [1, %d)", a.hw)
		}
		if i > 0 && free[i-1] == id {
			return corruptf(id, "page free twice")
		}
		if t, ok := c.seen[id]; ok {
			return corruptf(id, "page both free and used by tree %d", t)
		}
	}
	if n := uint64(len(free)) + uint64(len(c.seen)); n != uint64(a.hw-firstDataPage) {
		return fmt.Errorf("%w: %d pages used and %d free, but %d allocated: pages leaked", ErrCorrupt, len(c.seen), len(free), a.hw-firstDataPage)
	}
	return nil
}
