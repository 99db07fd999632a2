package snapshot

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var seedFlag = flag.Uint64("seed", 0, "seed for the randomized snapshot tests; 0 picks one")

// testSeed returns the seed of a randomized test and logs it, so a failure
// can be rerun with -seed.
func testSeed(t testing.TB) uint64 {
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed=%d)", s, s)
	return s
}

type record struct {
	store      int
	key, value []byte
}

func recordCmp(a, b record) int {
	return cmp.Or(cmp.Compare(a.store, b.store), bytes.Compare(a.key, b.key))
}

// genRecords returns n records of stores [0, stores), sorted and distinct,
// with keys sharing prefixes so that prefix compression has work to do.
func genRecords(rng *rand.Rand, stores, n, maxKey, maxValue int) []record {
	if stores == 0 {
		return nil
	}
	prefixes := [][]byte{nil, []byte("user/"), []byte("user/0000"), []byte("order/2024/")}
	recs := make([]record, 0, n)
	for range n {
		k := slices.Clone(prefixes[rng.IntN(len(prefixes))])
		for range 1 + rng.IntN(max(1, maxKey-len(k))) {
			k = append(k, byte(rng.IntN(256)))
		}
		k = k[:min(len(k), maxKey)]
		v := make([]byte, rng.IntN(maxValue+1))
		for i := range v {
			v[i] = byte(rng.IntN(4)) // compressible
		}
		recs = append(recs, record{rng.IntN(stores), k, v})
	}
	slices.SortFunc(recs, recordCmp)
	return slices.CompactFunc(recs, func(a, b record) bool { return recordCmp(a, b) == 0 })
}

func testHeader(stores int) Header {
	h := Header{Domain: "shop", Seq: 12345, Node: "n1", Created: 1700000000000000000, Catalog: []byte{1, 2, 3}}
	for i := range stores {
		h.Stores = append(h.Stores, fmt.Sprintf("store%d", i))
	}
	return h
}

func hashOf(recs []record) []byte {
	h := sha256.New()
	for _, r := range recs {
		fmt.Fprintf(h, "%d %x %x\n", r.store, r.key, r.value)
	}
	return h.Sum(nil)
}

// encode writes a snapshot file of recs.
func encode(t testing.TB, h Header, recs []record, opts WriterOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Add(r.store, r.key, r.value); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(Trailer{Records: uint64(len(recs)), StateHash: hashOf(recs)}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decodeAll reads a whole file. It returns the records read before any
// error, and the error (nil for a file that ended with io.EOF).
func decodeAll(data []byte) (Header, []record, Trailer, error) {
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		return Header{}, nil, Trailer{}, err
	}
	var recs []record
	for {
		s, k, v, err := r.Next()
		if err == io.EOF {
			return r.Header(), recs, r.Trailer(), nil
		}
		if err != nil {
			return r.Header(), recs, Trailer{}, err
		}
		recs = append(recs, record{s, slices.Clone(k), slices.Clone(v)})
	}
}

func sameRecords(t *testing.T, got, want []record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if recordCmp(got[i], want[i]) != 0 || !bytes.Equal(got[i].value, want[i].value) {
			t.Fatalf("record %d: got (%d, %q, %d bytes), want (%d, %q, %d bytes)", i,
				got[i].store, got[i].key, len(got[i].value), want[i].store, want[i].key, len(want[i].value))
		}
	}
}

func sameHeader(t *testing.T, got, want Header) {
	t.Helper()
	if got.Domain != want.Domain || got.Seq != want.Seq || got.Node != want.Node || got.Created != want.Created ||
		!bytes.Equal(got.Catalog, want.Catalog) || !slices.Equal(got.Stores, want.Stores) {
		t.Fatalf("header %+v, want %+v", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 0))
	cases := []struct {
		name       string
		stores     int
		n          int
		key, value int
		chunk      int
	}{
		{"empty", 0, 0, 0, 0, 0},
		{"one store without records", 1, 0, 0, 0, 0},
		{"one record", 1, 1, 10, 10, 0},
		{"small chunks", 5, 2000, 40, 50, 256},
		{"default chunks", 7, 10000, 64, 200, 0},
		{"values larger than chunks", 3, 30, 20, 200 << 10, 64 << 10},
		{"tiny chunks, long keys", 2, 300, MaxKeySize, 10, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := testHeader(c.stores)
			recs := genRecords(rng, c.stores, c.n, c.key, c.value)
			data := encode(t, h, recs, WriterOptions{ChunkSize: c.chunk})
			gh, got, tr, err := decodeAll(data)
			if err != nil {
				t.Fatal(err)
			}
			sameHeader(t, gh, h)
			sameRecords(t, got, recs)
			if tr.Records != uint64(len(recs)) || !bytes.Equal(tr.StateHash, hashOf(recs)) {
				t.Fatalf("trailer %+v", tr)
			}
		})
	}
}

// The largest key and value round-trip, and a value above the limit is refused.
func TestLimits(t *testing.T) {
	h := testHeader(1)
	recs := []record{{0, bytes.Repeat([]byte{'k'}, MaxKeySize), make([]byte, MaxValueSize)}}
	_, got, _, err := decodeAll(encode(t, h, recs, WriterOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, recs)

	w, err := NewWriter(io.Discard, h, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(0, []byte("k"), make([]byte, MaxValueSize+1)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("too long value: %v", err)
	}
	if err := w.Add(0, make([]byte, MaxKeySize+1), nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("too long key: %v", err)
	}
}

func TestWriterRejects(t *testing.T) {
	w, err := NewWriter(io.Discard, testHeader(3), WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(1, []byte("m"), nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		store int
		key   string
		want  string
	}{
		{1, "m", `store 1, key "m" after store 1, key "m"`},
		{1, "a", `store 1, key "a" after store 1, key "m"`},
		{0, "z", `store 0, key "z" after store 1, key "m"`},
		{3, "z", "store 3, the header lists 3"},
		{-1, "z", "store -1"},
		{2, "", "key of 0 bytes"},
	} {
		err := w.Add(c.store, []byte(c.key), nil)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Add(%d, %q) = %v, want ErrInvalid naming %q", c.store, c.key, err, c.want)
		}
	}
	// Rejected records changed nothing: the next good one is accepted.
	if err := w.Add(1, []byte("n"), nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(Trailer{Records: 1, StateHash: make([]byte, HashSize)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Close with a wrong count: %v", err)
	}
	if err := w.Close(Trailer{Records: 2, StateHash: make([]byte, 5)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Close with a short hash: %v", err)
	}
	if err := w.Close(Trailer{Records: 2, StateHash: make([]byte, HashSize)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(2, []byte("a"), nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Add after Close: %v", err)
	}
	if err := w.Close(Trailer{Records: 2, StateHash: make([]byte, HashSize)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("second Close: %v", err)
	}
	for _, size := range []int{-1, MaxChunkSize} {
		if _, err := NewWriter(io.Discard, testHeader(1), WriterOptions{ChunkSize: size}); !errors.Is(err, ErrInvalid) {
			t.Errorf("chunk size %d: %v", size, err)
		}
	}
	if _, err := NewWriter(io.Discard, Header{Stores: make([]string, MaxStores+1)}, WriterOptions{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("too many stores: %v", err)
	}
}

// failWriter fails every write after the first n bytes.
type failWriter struct{ n int }

var errBoom = errors.New("boom")

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, errBoom
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriterErrorSticks(t *testing.T) {
	w, err := NewWriter(&failWriter{n: 100}, testHeader(1), WriterOptions{ChunkSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	var failed error
	for i := 0; failed == nil && i < 1000; i++ {
		failed = w.Add(0, fmt.Appendf(nil, "key%05d", i), []byte("value"))
	}
	if !errors.Is(failed, errBoom) {
		t.Fatalf("Add: %v, want the writer's error", failed)
	}
	if err := w.Add(0, []byte("zzz"), nil); !errors.Is(err, errBoom) {
		t.Fatalf("Add after the error: %v", err)
	}
	if err := w.Close(Trailer{StateHash: make([]byte, HashSize)}); !errors.Is(err, errBoom) {
		t.Fatalf("Close after the error: %v", err)
	}
}

// failReader returns data, then err instead of io.EOF.
type failReader struct {
	data []byte
	err  error
}

func (f *failReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// An error of the input is passed through, not reported as corruption.
func TestReaderInputError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := encode(t, testHeader(2), genRecords(rng, 2, 500, 20, 20), WriterOptions{ChunkSize: 512})
	for _, cut := range []int{0, 5, 40, len(data) / 2, len(data) - 3, len(data)} {
		r, err := NewReader(&failReader{data[:cut], errBoom})
		for err == nil {
			_, _, _, err = r.Next()
		}
		if !errors.Is(err, errBoom) || errors.Is(err, ErrCorrupt) {
			t.Errorf("input failing after %d bytes: %v, want the input's error", cut, err)
		}
	}
}

// Next allocates nothing per record: a whole read allocates a constant.
func TestReaderAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	recs := genRecords(rng, 3, 20000, 24, 100)
	data := encode(t, testHeader(3), recs, WriterOptions{ChunkSize: 16 << 10})
	allocs := testing.AllocsPerRun(5, func() {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, _, _, err := r.Next(); err != nil {
				break
			}
		}
	})
	if allocs > 100 { // a constant, far below one per record
		t.Fatalf("reading %d records allocated %v times", len(recs), allocs)
	}
}

// The writer allocates nothing per record either.
func TestWriterAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	recs := genRecords(rng, 3, 20000, 24, 100)
	h := testHeader(3)
	hash := make([]byte, HashSize)
	allocs := testing.AllocsPerRun(5, func() {
		w, err := NewWriter(io.Discard, h, WriterOptions{ChunkSize: 16 << 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := w.Add(r.store, r.key, r.value); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(Trailer{Records: uint64(len(recs)), StateHash: hash}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 100 { // a constant, far below one per record
		t.Fatalf("writing %d records allocated %v times", len(recs), allocs)
	}
}
