package snapshot

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// FuzzReader checks three things for every input:
//
//   - data read as a file, and data with its checksums recomputed (so the
//     mutations reach the structural checks): no panic; either ErrCorrupt,
//     or records that obey every rule and match the trailer;
//   - a valid file made from gen, damaged by xor-ing mask into byte off (or,
//     with mask 0, cut to off bytes): an error wrapping ErrCorrupt by the
//     end, and only the file's own first records before it.
func FuzzReader(f *testing.F) {
	data, _ := smallFile(f)
	f.Add(data, uint16(0), uint32(10), byte(1))
	f.Add(encode(f, testHeader(0), nil, WriterOptions{}), uint16(1), uint32(3), byte(0))
	rng := rand.New(rand.NewPCG(1, 1))
	f.Add(encode(f, testHeader(3), genRecords(rng, 3, 50, 10, 30), WriterOptions{ChunkSize: 100}), uint16(2), uint32(200), byte(0x80))
	f.Add([]byte(Magic), uint16(3), uint32(0), byte(0))
	f.Fuzz(func(t *testing.T, data []byte, gen uint16, off uint32, mask byte) {
		checkAny(t, data)
		resealed := slices.Clone(data)
		reseal(resealed)
		checkAny(t, resealed)

		valid, recs := genFile(t, gen)
		bad := slices.Clone(valid)
		if mask != 0 {
			bad[int(off%uint32(len(bad)))] ^= mask
		} else {
			bad = bad[:int(off%uint32(len(bad)))]
		}
		_, got, _, err := decodeAll(bad)
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("damaged file (gen %d, off %d, mask %#x) read with %v", gen, off, mask, err)
		}
		sameRecords(t, got, recs[:min(len(got), len(recs))])
	})
}

// checkAny reads data; if it is accepted, what was read must obey the rules.
func checkAny(t *testing.T, data []byte) {
	h, recs, tr, err := decodeAll(data)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error without ErrCorrupt: %v", err)
		}
		return
	}
	if tr.Records != uint64(len(recs)) || len(tr.StateHash) != HashSize {
		t.Fatalf("trailer %d records, %d-byte hash; read %d records", tr.Records, len(tr.StateHash), len(recs))
	}
	for i, r := range recs {
		if r.store < 0 || r.store >= len(h.Stores) || len(r.key) == 0 || len(r.key) > MaxKeySize || len(r.value) > MaxValueSize {
			t.Fatalf("record %d breaks the limits: store %d of %d, %d-byte key, %d-byte value", i, r.store, len(h.Stores), len(r.key), len(r.value))
		}
		if i > 0 && recordCmp(recs[i-1], r) >= 0 {
			t.Fatalf("records %d and %d out of order", i-1, i)
		}
	}
	// An accepted file is read the same way again and written back the same.
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Add(r.store, r.key, r.value); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(tr); err != nil {
		t.Fatal(err)
	}
	h2, recs2, _, err := decodeAll(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	sameHeader(t, h2, h)
	sameRecords(t, recs2, recs)
}

// genFile makes a small valid file from a seed.
func genFile(t *testing.T, gen uint16) ([]byte, []record) {
	rng := rand.New(rand.NewPCG(uint64(gen), 99))
	stores := rng.IntN(4)
	recs := genRecords(rng, stores, rng.IntN(40), 12, 40)
	return encode(t, testHeader(stores), recs, WriterOptions{ChunkSize: 1 + rng.IntN(300)}), recs
}
