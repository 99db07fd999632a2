package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sopd/sop/btree"
)

// checkpointSlots stores sop's checkpoints durably for the btree suite, standing in
// for the engine's own store: two files, checkpoint-0 and checkpoint-1, opened once
// and written in turn, so a torn write can only damage the slot being replaced while
// the other still holds the previous checkpoint. load takes the newest slot that
// decodes.
//
// Slot layout, at offset 0 of each file (bytes after the record are stale and
// ignored):
//
//	u32  length of the record, little-endian
//	...  the record: btree.Checkpoint.MarshalBinary, which ends in its own CRC32C
//
// Each save is one pwrite and one fdatasync. The directory is not synced: the files
// exist before the first timed save.
type checkpointSlots struct {
	files [2]*os.File
	next  int // the slot the next save overwrites
	buf   []byte
}

func openSlots(dir string) (*checkpointSlots, error) {
	s := &checkpointSlots{}
	for i := range s.files {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("checkpoint-%d", i)), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			s.close()
			return nil, err
		}
		s.files[i] = f
	}
	return s, nil
}

// save is the save function given to Forest.Flush.
func (s *checkpointSlots) save(cp btree.Checkpoint) error {
	rec, err := cp.MarshalBinary()
	if err != nil {
		return err
	}
	s.buf = binary.LittleEndian.AppendUint32(s.buf[:0], uint32(len(rec)))
	s.buf = append(s.buf, rec...)
	f := s.files[s.next]
	if _, err := f.WriteAt(s.buf, 0); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if err := fdatasync(f); err != nil {
		return fmt.Errorf("sync checkpoint: %w", err)
	}
	s.next ^= 1
	return nil
}

// load returns the newest checkpoint either slot holds.
func (s *checkpointSlots) load() (btree.Checkpoint, error) {
	var best btree.Checkpoint
	var errs []error
	found := false
	for _, f := range s.files {
		cp, err := readSlot(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !found || cp.Version > best.Version {
			best, found = cp, true
		}
	}
	if !found {
		return best, fmt.Errorf("no valid checkpoint: %w", errors.Join(errs...))
	}
	return best, nil
}

func readSlot(f *os.File) (btree.Checkpoint, error) {
	var cp btree.Checkpoint
	var hdr [4]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return cp, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	st, err := f.Stat()
	if err != nil {
		return cp, err
	}
	n := int64(binary.LittleEndian.Uint32(hdr[:]))
	if n > st.Size()-int64(len(hdr)) {
		return cp, fmt.Errorf("%s: record of %d bytes runs past the end", f.Name(), n)
	}
	rec := make([]byte, n)
	if _, err := f.ReadAt(rec, int64(len(hdr))); err != nil {
		return cp, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	if err := cp.UnmarshalBinary(rec); err != nil {
		return cp, fmt.Errorf("decode %s: %w", f.Name(), err)
	}
	return cp, nil
}

func (s *checkpointSlots) close() error {
	var errs []error
	for _, f := range s.files {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	return errors.Join(errs...)
}
