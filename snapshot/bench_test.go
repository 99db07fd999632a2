package snapshot

import (
	"bytes"
	"encoding/binary"
	"io"
	"sync"
	"testing"
)

// benchRecords is the shape of a restore benchmark: 1M items of 16-byte
// keys and 100-byte values (an item's version and its value) in one store.
const benchRecords = 1_000_000

var benchFile = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testHeader(1), WriterOptions{})
	if err != nil {
		panic(err)
	}
	key := make([]byte, 16)
	value := make([]byte, 100)
	for i := range benchRecords {
		binary.BigEndian.PutUint64(key[8:], uint64(i)*2654435761)
		binary.BigEndian.PutUint64(key[:8], uint64(i))
		binary.LittleEndian.PutUint64(value, uint64(i))
		if err := w.Add(0, key, value); err != nil {
			panic(err)
		}
	}
	if err := w.Close(Trailer{Records: benchRecords, StateHash: make([]byte, HashSize)}); err != nil {
		panic(err)
	}
	return buf.Bytes()
})

func BenchmarkWrite1M(b *testing.B) {
	key := make([]byte, 16)
	value := make([]byte, 100)
	hash := make([]byte, HashSize)
	b.SetBytes(int64(benchRecords * (len(key) + len(value))))
	b.ReportAllocs()
	for b.Loop() {
		w, err := NewWriter(io.Discard, testHeader(1), WriterOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for i := range benchRecords {
			binary.BigEndian.PutUint64(key[:8], uint64(i))
			binary.LittleEndian.PutUint64(value, uint64(i))
			if err := w.Add(0, key, value); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(Trailer{Records: benchRecords, StateHash: hash}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchRecords)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkRead1M(b *testing.B) {
	data := benchFile()
	b.SetBytes(int64(benchRecords * (16 + 100)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, _, _, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != benchRecords {
			b.Fatalf("read %d records", n)
		}
	}
	b.ReportMetric(float64(b.N*benchRecords)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(len(data)), "file-bytes")
}
