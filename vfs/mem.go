package vfs

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MemFS is an in-memory FS that remembers what would survive a crash; see the
// package doc for the crash model. Names are cleaned with path/filepath and resolved
// from the root, so "a/b", "/a/b" and "/a/./b" are the same file. Open refuses
// directories (EISDIR). The zero MemFS is not usable; call NewMem.
//
// One mutex guards the whole tree and every open File, so a MemFS and its Files are
// safe for concurrent use.
type MemFS struct {
	mu   sync.Mutex
	root *node // guarded by mu, like everything reachable from it
}

var _ FS = (*MemFS)(nil)

// NewMem returns an empty MemFS holding only the root directory.
func NewMem() *MemFS { return &MemFS{root: newDir(0o755)} }

// node is an inode: a file or a directory. It may be reachable under no name (removed
// while open) or, after a crash, under two.
type node struct {
	isDir bool
	perm  os.FileMode
	file  fileState // unused when isDir
	dir   dirState  // unused when !isDir
}

func newDir(perm os.FileMode) *node {
	return &node{isDir: true, perm: perm & os.ModePerm, dir: dirState{
		children: map[string]*node{},
		durable:  map[string]*node{},
	}}
}

func newFile() *node { return &node{perm: 0o644} }

// dirState holds a directory's entries.
// Invariant: applying pending in order to durable gives children.
type dirState struct {
	children map[string]*node // live entries
	durable  map[string]*node // entries as of the last SyncDir
	pending  []dirChange      // changes since the last SyncDir, in order
}

// dirChange is one atomic change to a directory's entries.
type dirChange []dirEntry

// dirEntry binds name to n, or removes name when n is nil.
type dirEntry struct {
	name string
	n    *node
}

func (c dirChange) applyTo(entries map[string]*node) {
	for _, e := range c {
		if e.n == nil {
			delete(entries, e.name)
		} else {
			entries[e.name] = e.n
		}
	}
}

// change applies c to the live entries and logs it for the next SyncDir.
func (d *dirState) change(c ...dirEntry) {
	dirChange(c).applyTo(d.children)
	d.pending = append(d.pending, c)
}

func (d *dirState) sync() {
	d.durable = maps.Clone(d.children)
	d.pending = nil
}

// split cleans name into its components below the root; the root has none. A ".."
// above the root stays at the root, as it does in the OS.
func split(name string) []string {
	clean := filepath.ToSlash(filepath.Clean(name))
	parts := strings.Split(strings.Trim(clean, "/"), "/")
	for len(parts) > 0 && (parts[0] == ".." || parts[0] == "." || parts[0] == "") {
		parts = parts[1:]
	}
	return parts
}

func pathErr(op, name string, err error) error {
	return &os.PathError{Op: op, Path: name, Err: err}
}

// walk returns the node at parts. The caller holds m.mu.
func (m *MemFS) walk(op, name string, parts []string) (*node, error) {
	n := m.root
	for _, p := range parts {
		if !n.isDir {
			return nil, pathErr(op, name, syscall.ENOTDIR)
		}
		if n = n.dir.children[p]; n == nil {
			return nil, pathErr(op, name, syscall.ENOENT)
		}
	}
	return n, nil
}

func (m *MemFS) lookup(op, name string) (*node, error) {
	return m.walk(op, name, split(name))
}

// parent returns the directory holding name and name's base. The caller holds m.mu.
func (m *MemFS) parent(op, name string) (*node, string, error) {
	parts := split(name)
	if len(parts) == 0 {
		return nil, "", pathErr(op, name, syscall.EINVAL) // the root has no parent
	}
	dir, err := m.walk(op, name, parts[:len(parts)-1])
	if err != nil {
		return nil, "", err
	}
	if !dir.isDir {
		return nil, "", pathErr(op, name, syscall.ENOTDIR)
	}
	return dir, parts[len(parts)-1], nil
}

// Create implements FS.
func (m *MemFS) Create(name string) (File, error) { return m.openWritable(name, true) }

// OpenReadWrite implements FS.
func (m *MemFS) OpenReadWrite(name string) (File, error) { return m.openWritable(name, false) }

func (m *MemFS) openWritable(name string, trunc bool) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parent("open", name)
	if err != nil {
		return nil, err
	}
	n := dir.dir.children[base]
	switch {
	case n == nil:
		n = newFile()
		dir.dir.change(dirEntry{base, n})
	case n.isDir:
		return nil, pathErr("open", name, syscall.EISDIR)
	case trunc:
		n.file.truncate(0)
	}
	return &memFile{fs: m, n: n, name: name, writable: true}, nil
}

// Open implements FS.
func (m *MemFS) Open(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if n.isDir {
		return nil, pathErr("open", name, syscall.EISDIR)
	}
	return &memFile{fs: m, n: n, name: name}, nil
}

// Remove implements FS.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parent("remove", name)
	if err != nil {
		return err
	}
	n := dir.dir.children[base]
	switch {
	case n == nil:
		return pathErr("remove", name, syscall.ENOENT)
	case n.isDir && len(n.dir.children) > 0:
		return pathErr("remove", name, syscall.ENOTEMPTY)
	}
	dir.dir.change(dirEntry{base, nil})
	return nil
}

// Rename implements FS. A directory may be renamed over an empty directory, a file
// over a file.
func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	linkErr := func(err error) error {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	od, ob, err := m.parent("rename", oldname)
	if err != nil {
		return linkErr(err.(*os.PathError).Err)
	}
	nd, nb, err := m.parent("rename", newname)
	if err != nil {
		return linkErr(err.(*os.PathError).Err)
	}
	n, target := od.dir.children[ob], nd.dir.children[nb]
	if n == nil {
		return linkErr(syscall.ENOENT)
	}
	if n == target {
		return nil // POSIX: renaming a file onto itself does nothing
	}
	if err := m.checkRename(n, target, split(newname)); err != nil {
		return linkErr(err)
	}
	if od == nd {
		od.dir.change(dirEntry{ob, nil}, dirEntry{nb, n})
		return nil
	}
	nd.dir.change(dirEntry{nb, n})
	od.dir.change(dirEntry{ob, nil})
	return nil
}

// checkRename returns the errno for moving n to newParts over target, if any.
func (m *MemFS) checkRename(n, target *node, newParts []string) error {
	switch {
	case !n.isDir && target != nil && target.isDir:
		return syscall.EISDIR
	case !n.isDir:
		return nil
	case target != nil && !target.isDir:
		return syscall.ENOTDIR
	case target != nil && len(target.dir.children) > 0:
		return syscall.ENOTEMPTY
	}
	// A directory cannot move below itself.
	cur := m.root
	for _, p := range newParts[:len(newParts)-1] {
		if cur = cur.dir.children[p]; cur == n {
			return syscall.EINVAL
		}
	}
	return nil
}

// MkdirAll implements FS.
func (m *MemFS) MkdirAll(dir string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.root
	for _, p := range split(dir) {
		if !n.isDir {
			return pathErr("mkdir", dir, syscall.ENOTDIR)
		}
		c := n.dir.children[p]
		if c == nil {
			c = newDir(perm)
			n.dir.change(dirEntry{p, c})
		}
		n = c
	}
	if !n.isDir {
		return pathErr("mkdir", dir, syscall.ENOTDIR)
	}
	return nil
}

// Stat implements FS. The returned ModTime is always the zero time.
func (m *MemFS) Stat(name string) (os.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	fi := memInfo{name: filepath.Base(filepath.Clean(name)), perm: n.perm, dir: n.isDir}
	if !n.isDir {
		fi.size = int64(len(n.file.data))
	}
	return fi, nil
}

// List implements FS.
func (m *MemFS) List(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookupDir("readdirent", dir)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(n.dir.children)), nil
}

// SyncDir implements FS.
func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookupDir("sync", dir)
	if err != nil {
		return err
	}
	n.dir.sync()
	return nil
}

func (m *MemFS) lookupDir(op, dir string) (*node, error) {
	n, err := m.lookup(op, dir)
	if err != nil {
		return nil, err
	}
	if !n.isDir {
		return nil, pathErr(op, dir, syscall.ENOTDIR)
	}
	return n, nil
}

// memInfo implements fs.FileInfo for MemFS.
type memInfo struct {
	name string
	size int64
	perm os.FileMode
	dir  bool
}

var _ fs.FileInfo = memInfo{}

func (fi memInfo) Name() string       { return fi.name }
func (fi memInfo) Size() int64        { return fi.size }
func (fi memInfo) ModTime() time.Time { return time.Time{} }
func (fi memInfo) IsDir() bool        { return fi.dir }
func (fi memInfo) Sys() any           { return nil }

func (fi memInfo) Mode() os.FileMode {
	if fi.dir {
		return fi.perm | os.ModeDir
	}
	return fi.perm
}
