package btree

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/sopd/sop/vfs"
)

// The file header occupies page 0:
//
//	off size field
//	0   4    checksum: CRC32C of bytes [4, 64)
//	4   2    magic 0x5350
//	6   1    format version (1)
//	7   1    type 4 (file header)
//	8   8    page id 0
//	16  8    file magic "SOPBTREE"
//	24  4    page size in bytes
//	28  36   reserved (0)
//
// The rest of page 0 is unused. The header is written once, when the file is
// created, and never changes.
const fileMagic = "SOPBTREE"

const headerCheckLen = 64

// pageFile reads and writes whole pages at offset id*pageSize.
type pageFile struct {
	f        vfs.File
	pageSize int
	wbuf     []byte   // coalescing buffer where vectored writes are missing
	iov      [][]byte // the pages of one vectored write
}

// openPageFile opens path, creating it with a header when it does not exist.
// pageSize 0 adopts the size recorded in an existing file (DefaultPageSize for
// a new one).
func openPageFile(fsys vfs.FS, path string, pageSize int) (*pageFile, error) {
	if _, err := fsys.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return createPageFile(fsys, path, pageSize)
	} else if err != nil {
		return nil, fmt.Errorf("stat page file: %w", err)
	}
	f, err := fsys.OpenReadWrite(path)
	if err != nil {
		return nil, fmt.Errorf("open page file: %w", err)
	}
	hdr := make([]byte, headerCheckLen)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		f.Close()
		if errors.Is(err, io.EOF) {
			return nil, corruptf(0, "file %s is shorter than its header", path)
		}
		return nil, fmt.Errorf("read page file header: %w", err)
	}
	size, err := parseFileHeader(hdr)
	if err != nil {
		f.Close()
		return nil, err
	}
	if pageSize != 0 && pageSize != size {
		f.Close()
		return nil, fmt.Errorf("%w: file %s has %d-byte pages, options ask for %d", ErrBadOptions, path, size, pageSize)
	}
	return &pageFile{f: f, pageSize: size}, nil
}

func createPageFile(fsys vfs.FS, path string, pageSize int) (*pageFile, error) {
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	f, err := fsys.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create page file: %w", err)
	}
	hdr := make([]byte, pageSize)
	fillFileHeader(hdr, pageSize)
	if _, err := f.WriteAt(hdr, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write page file header: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync page file: %w", err)
	}
	if err := fsys.SyncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync page file directory: %w", err)
	}
	return &pageFile{f: f, pageSize: pageSize}, nil
}

func fillFileHeader(b []byte, pageSize int) {
	page(b).init(typeHeader, 0)
	copy(b[16:24], fileMagic)
	binary.LittleEndian.PutUint32(b[24:], uint32(pageSize))
	binary.LittleEndian.PutUint32(b[0:], crc32.Checksum(b[4:headerCheckLen], castagnoli))
}

func parseFileHeader(b []byte) (int, error) {
	if string(b[16:24]) != fileMagic {
		return 0, corruptf(0, "not a sop page file (bad file magic %q)", b[16:24])
	}
	if got, sum := binary.LittleEndian.Uint32(b[0:]), crc32.Checksum(b[4:headerCheckLen], castagnoli); got != sum {
		return 0, corruptf(0, "file header checksum mismatch (stored %08x, computed %08x)", got, sum)
	}
	if binary.LittleEndian.Uint16(b[4:]) != pageMagic || b[7] != typeHeader {
		return 0, corruptf(0, "bad file header magic or type")
	}
	if b[6] != formatVersion {
		return 0, corruptf(0, "unsupported format version %d", b[6])
	}
	size := int(binary.LittleEndian.Uint32(b[24:]))
	if err := checkPageSize(size); err != nil {
		return 0, corruptf(0, "file header names page size %d", size)
	}
	return size, nil
}

func checkPageSize(n int) error {
	if n < MinPageSize || n > MaxPageSize || n&(n-1) != 0 {
		return fmt.Errorf("%w: page size %d is not a power of two in [%d, %d]", ErrBadOptions, n, MinPageSize, MaxPageSize)
	}
	return nil
}

// read reads and verifies page id into buf.
func (pf *pageFile) read(id PageID, buf page) error {
	n, err := pf.f.ReadAt(buf, int64(id)*int64(pf.pageSize))
	if n == len(buf) {
		return buf.verify(id)
	}
	if errors.Is(err, io.EOF) || err == nil {
		return corruptf(id, "page lies beyond the end of the file")
	}
	return fmt.Errorf("read page %d: %w", id, err)
}

// writeRun writes sealed pages with consecutive ids starting at first, in
// one vectored write where the file system has it.
func (pf *pageFile) writeRun(first PageID, pages []page) error {
	pf.iov = pf.iov[:0]
	for _, p := range pages {
		pf.iov = append(pf.iov, p)
	}
	var err error
	_, pf.wbuf, err = vfs.WriteVAt(pf.f, pf.iov, int64(first)*int64(pf.pageSize), pf.wbuf)
	clear(pf.iov) // keep no pages alive from here
	if err != nil {
		return fmt.Errorf("write pages %d-%d: %w", first, first+PageID(len(pages))-1, err)
	}
	return nil
}

func (pf *pageFile) sync() error {
	if err := pf.f.Sync(); err != nil {
		return fmt.Errorf("sync page file: %w", err)
	}
	return nil
}
