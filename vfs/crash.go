package vfs

import (
	"maps"
	"math/rand/v2"
	"slices"
)

// Crash returns a new MemFS holding only what m has made durable: each directory's
// entries as of its last SyncDir, each file's contents as of its last Sync. m is
// unchanged and stays usable; the two share nothing. See the package doc.
func (m *MemFS) Crash() *MemFS { return m.crash(nil) }

// CrashRandom is like Crash, but some changes made since the last Sync or SyncDir
// survive too: each unsynced write or truncation of a file independently with
// probability 1/2, and a uniformly chosen prefix of each directory's unsynced entry
// changes. The result is a function of m and the values drawn from rng. See the
// package doc.
func (m *MemFS) CrashRandom(rng *rand.Rand) *MemFS { return m.crash(rng) }

func (m *MemFS) crash(rng *rand.Rand) *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := crasher{rng: rng, copies: map[*node]*node{}}
	return &MemFS{root: c.copy(m.root)}
}

// crasher copies the surviving part of a tree. Nodes are visited in name order so
// that a seed always draws the same values for the same node.
type crasher struct {
	rng    *rand.Rand      // nil: keep only what is durable
	copies map[*node]*node // old node to its copy, so an inode stays one inode
}

func (c *crasher) copy(n *node) *node {
	if cp, ok := c.copies[n]; ok {
		return cp
	}
	cp := &node{isDir: n.isDir, perm: n.perm}
	c.copies[n] = cp // before recursing: ends any cycle
	if n.isDir {
		cp.dir = c.survivingDir(&n.dir)
	} else {
		cp.file = c.survivingFile(&n.file)
	}
	return cp
}

func (c *crasher) survivingDir(d *dirState) dirState {
	entries := maps.Clone(d.durable)
	if c.rng != nil {
		for _, ch := range d.pending[:c.rng.IntN(len(d.pending)+1)] {
			ch.applyTo(entries)
		}
	}
	children := make(map[string]*node, len(entries))
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		children[name] = c.copy(entries[name])
	}
	return dirState{children: children, durable: maps.Clone(children)}
}

func (c *crasher) survivingFile(f *fileState) fileState {
	data := slices.Clone(f.synced)
	for _, op := range f.unsynced {
		if c.rng != nil && c.rng.IntN(2) == 1 {
			data = op.apply(data)
		}
	}
	return fileState{data: data, synced: slices.Clone(data)}
}
