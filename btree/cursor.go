package btree

import "bytes"

// Bounds limit a cursor to keys in [Start, End). A nil bound is open.
type Bounds struct {
	Start []byte // inclusive
	End   []byte // exclusive
}

// Cursor walks one tree of a pinned version in key order, both ways, within
// its bounds. Key and Value slices are valid until the reader is released
// (for a batch cursor: until the batch's next change) and must not be
// modified. Movement methods return false at the end of the range or on
// error; Err tells which. A Cursor is not safe for concurrent use.
type Cursor struct {
	f      *Forest
	root   PageID
	bounds Bounds
	stack  []cursorFrame
	key    []byte
	val    []byte // the inline value, when inline
	inline bool
	valid  bool
	err    error
}

type cursorFrame struct {
	p page
	i int
	n int // p.count()
}

func newCursor(f *Forest, root PageID, b Bounds) *Cursor {
	return &Cursor{f: f, root: root, bounds: b}
}

// Err is the error that stopped the cursor, if any.
func (c *Cursor) Err() error { return c.err }

// Valid reports whether the cursor is positioned on an item.
func (c *Cursor) Valid() bool { return c.valid }

// Key is the current item's key.
func (c *Cursor) Key() []byte { return c.key }

// Value is the current item's value. Values kept in overflow pages are read
// (and copied) on each call.
func (c *Cursor) Value() ([]byte, error) {
	if c.inline || !c.valid {
		return c.val, nil
	}
	top := c.stack[len(c.stack)-1]
	return c.f.value(top.p, top.p.cell(top.i))
}

// First moves to the first key >= Start.
func (c *Cursor) First() bool {
	if c.bounds.Start != nil {
		return c.seekGE(c.bounds.Start)
	}
	return c.edge(false)
}

// Last moves to the last key < End.
func (c *Cursor) Last() bool {
	if c.bounds.End != nil {
		return c.seekLT(c.bounds.End)
	}
	return c.edge(true)
}

// Seek moves to the first key >= key (and >= Start).
func (c *Cursor) Seek(key []byte) bool {
	if c.bounds.Start != nil && bytes.Compare(key, c.bounds.Start) < 0 {
		key = c.bounds.Start
	}
	return c.seekGE(key)
}

// SeekLT moves to the last key < key (and < End).
func (c *Cursor) SeekLT(key []byte) bool {
	if c.bounds.End != nil && bytes.Compare(key, c.bounds.End) > 0 {
		key = c.bounds.End
	}
	return c.seekLT(key)
}

// Next moves to the next key.
func (c *Cursor) Next() bool {
	if !c.valid {
		return false
	}
	top := &c.stack[len(c.stack)-1]
	if top.i++; top.i < top.n && c.bounds.End == nil && c.loadInline(top) {
		return true
	}
	return c.forward()
}

// Prev moves to the previous key.
func (c *Cursor) Prev() bool {
	if !c.valid {
		return false
	}
	top := &c.stack[len(c.stack)-1]
	if top.i--; top.i >= 0 && c.bounds.Start == nil && c.loadInline(top) {
		return true
	}
	return c.backward()
}

// loadInline positions on leaf cell top.i when its key and value are both
// inline: the common case, decoded without calls.
func (c *Cursor) loadInline(top *cursorFrame) bool {
	p := top.p
	off := int(p[headerSize+slotSize*top.i]) | int(p[headerSize+slotSize*top.i+1])<<8
	if p[off] != 0 {
		return false
	}
	klen := int(p[off+1]) | int(p[off+2])<<8
	vlen := int(le32(p[off+3:]))
	k := off + leafCellHeader
	c.key, c.val, c.inline = p[k:k+klen:k+klen], p[k+klen:k+klen+vlen:k+klen+vlen], true
	return true
}

func (c *Cursor) fail(err error) bool {
	c.err, c.valid = err, false
	return false
}

// descend pushes frames from page id down to a leaf, taking the first (or
// last) child at every level.
func (c *Cursor) descend(id PageID, last bool) bool {
	for {
		p, err := c.f.node(id)
		if err != nil {
			return c.fail(err)
		}
		i := 0
		if last {
			i = p.count() - 1
		}
		c.stack = append(c.stack, cursorFrame{p, i, p.count()})
		if p.isLeaf() {
			return true
		}
		if p.count() == 0 {
			return c.fail(corruptf(id, "branch page has no children"))
		}
		id = p.childAt(i)
	}
}

func (c *Cursor) edge(last bool) bool {
	c.stack, c.err = c.stack[:0], nil
	if !c.descend(c.root, last) {
		return false
	}
	if last {
		return c.backward()
	}
	return c.forward()
}

// seekTo descends to the leaf for key, positioned at the first cell >= key.
func (c *Cursor) seekTo(key []byte) bool {
	c.stack, c.err = c.stack[:0], nil
	id := c.root
	for {
		p, err := c.f.node(id)
		if err != nil {
			return c.fail(err)
		}
		if p.isLeaf() {
			i, _, err := c.f.searchLeaf(p, key)
			if err != nil {
				return c.fail(err)
			}
			c.stack = append(c.stack, cursorFrame{p, i, p.count()})
			return true
		}
		i, err := c.f.searchBranch(p, key)
		if err != nil {
			return c.fail(err)
		}
		c.stack = append(c.stack, cursorFrame{p, i, p.count()})
		id = p.childAt(i)
	}
}

func (c *Cursor) seekGE(key []byte) bool {
	return c.seekTo(key) && c.forward()
}

func (c *Cursor) seekLT(key []byte) bool {
	if !c.seekTo(key) {
		return false
	}
	c.stack[len(c.stack)-1].i--
	return c.backward()
}

// forward settles on the leaf cell at the top frame, moving to later
// leaves while the index is past the end, and checks the end bound.
func (c *Cursor) forward() bool {
	for {
		top := &c.stack[len(c.stack)-1]
		if top.i < top.n {
			break
		}
		for {
			c.stack = c.stack[:len(c.stack)-1]
			if len(c.stack) == 0 {
				c.valid = false
				return false
			}
			t := &c.stack[len(c.stack)-1]
			if t.i++; t.i < t.n {
				break
			}
		}
		t := c.stack[len(c.stack)-1]
		if !c.descend(t.p.childAt(t.i), false) {
			return false
		}
	}
	if !c.load() {
		return false
	}
	if c.bounds.End != nil && bytes.Compare(c.key, c.bounds.End) >= 0 {
		c.valid = false
		return false
	}
	return true
}

// backward is forward's mirror image, checking the start bound.
func (c *Cursor) backward() bool {
	for {
		top := &c.stack[len(c.stack)-1]
		if top.i >= 0 {
			break
		}
		for {
			c.stack = c.stack[:len(c.stack)-1]
			if len(c.stack) == 0 {
				c.valid = false
				return false
			}
			t := &c.stack[len(c.stack)-1]
			if t.i--; t.i >= 0 {
				break
			}
		}
		t := c.stack[len(c.stack)-1]
		if !c.descend(t.p.childAt(t.i), true) {
			return false
		}
	}
	if !c.load() {
		return false
	}
	if c.bounds.Start != nil && bytes.Compare(c.key, c.bounds.Start) < 0 {
		c.valid = false
		return false
	}
	return true
}

// load reads the current cell's key (and value, when inline).
func (c *Cursor) load() bool {
	top := &c.stack[len(c.stack)-1]
	if c.loadInline(top) {
		c.valid = true
		return true
	}
	c.val, c.inline = nil, false
	cell := top.p.cell(top.i)
	if cell[0]&flagBigKey == 0 {
		c.key = top.p.localKey(cell)
	} else {
		k, err := c.f.fullKey(top.p, cell)
		if err != nil {
			return c.fail(err)
		}
		c.key = k
	}
	c.valid = true
	return true
}
