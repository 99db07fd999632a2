package vfs

// VectorWriterAt is implemented by files that write several buffers at one
// offset in one call (pwritev on Linux). Use WriteVAt, which falls back to
// copying and WriteAt for files that lack it.
type VectorWriterAt interface {
	// WriteVAt writes the concatenation of bufs at off. It returns the number
	// of bytes written and an error when that is less than the total.
	WriteVAt(bufs [][]byte, off int64) (int, error)
}

// WriteVAt writes the concatenation of bufs at off in f: in one call when f
// implements VectorWriterAt, else by copying into scratch (grown as needed
// and returned for reuse) and calling WriteAt.
func WriteVAt(f File, bufs [][]byte, off int64, scratch []byte) (int, []byte, error) {
	if vw, ok := f.(VectorWriterAt); ok {
		n, err := vw.WriteVAt(bufs, off)
		return n, scratch, err
	}
	scratch = scratch[:0]
	for _, b := range bufs {
		scratch = append(scratch, b...)
	}
	n, err := f.WriteAt(scratch, off)
	return n, scratch, err
}

func (f *injectFile) WriteVAt(bufs [][]byte, off int64) (int, error) {
	if err := f.fs.maybe(OpWrite, f.name); err != nil {
		return 0, err
	}
	n, _, err := WriteVAt(f.f, bufs, off, nil)
	return n, err
}
