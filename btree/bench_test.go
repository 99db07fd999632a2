package btree

// Benchmarks for quick iteration on the B-tree alone; the comparison with
// bbolt lives in bench/. SOP_BENCH_PAGESIZE sets the page size (default
// 4096); SOP_SCAN_PROFILE=FILE writes a CPU profile of the scan loops
// only, without the tree building before them.

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"testing"

	"github.com/sopd/sop/vfs"
)

// benchForest loads n random 16-byte keys with 100-byte values.
func benchForest(b *testing.B, n int) (*Forest, [][]byte) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 1))
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, r.Uint64()), r.Uint64())
	}
	slices.SortFunc(keys, cmpBytes)
	f, err := Open(b.TempDir()+"/pages", Checkpoint{}, Options{FS: vfs.Default, CacheSize: 1 << 30, PageSize: benchPageSize})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	bt, _ := f.Begin()
	bt.CreateTree(1)
	val := make([]byte, 100)
	i := 0
	err = bt.Load(1, func() ([]byte, []byte, error) {
		if i == len(keys) {
			return nil, nil, io.EOF
		}
		i++
		return keys[i-1], val, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	bt.Commit()
	r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	return f, keys
}

func cmpBytes(a, b []byte) int { return slices.Compare(a, b) }

func BenchmarkScan(b *testing.B) {
	f, _ := benchForest(b, 1_000_000)
	scanLoop(b, f)
}

func BenchmarkGet(b *testing.B) {
	f, keys := benchForest(b, 1_000_000)
	b.ResetTimer()
	i := 0
	for b.Loop() {
		rd, _ := f.NewReader()
		for j := 0; j < 1000; j++ {
			if _, ok, _ := rd.Get(1, keys[i%len(keys)]); !ok {
				b.Fatal("missing key")
			}
			i++
		}
		rd.Release()
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "gets/s")
}

// BenchmarkScanInserted scans a tree built by random inserts in batches of
// 1,000 (cells scattered within pages), touching key and value bytes.
func BenchmarkScanInserted(b *testing.B) {
	b.Run("live", func(b *testing.B) { benchScanInserted(b, false) })
	b.Run("reopened", func(b *testing.B) { benchScanInserted(b, true) })
}

func benchScanInserted(b *testing.B, reopen bool) {
	dir := b.TempDir()
	f, err := Open(dir+"/pages", Checkpoint{}, Options{FS: vfs.Default, CacheSize: 1 << 30, PageSize: benchPageSize})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(1, 1))
	val := make([]byte, 100)
	for i := 0; i < 1000; i++ {
		bt, _ := f.Begin()
		if i == 0 {
			bt.CreateTree(1)
		}
		for j := 0; j < 1000; j++ {
			k := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, r.Uint64()), r.Uint64())
			bt.Put(1, k, val)
		}
		bt.Commit()
	}
	if reopen {
		var cp Checkpoint
		f.Flush(func(c Checkpoint) error { cp = c; return nil })
		f.Close()
		f, err = Open(dir+"/pages", cp, Options{FS: vfs.Default, CacheSize: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
	}
	runtime.GC()
	scanLoop(b, f)
}

var benchPageSize = func() int {
	if v, err := strconv.Atoi(os.Getenv("SOP_BENCH_PAGESIZE")); err == nil {
		return v
	}
	return 4096
}()

// scanProfile starts a CPU profile into SOP_SCAN_PROFILE, if set, and
// returns the function that stops it.
func scanProfile(b *testing.B) func() {
	path := os.Getenv("SOP_SCAN_PROFILE")
	if path == "" {
		return func() {}
	}
	out, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		b.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); out.Close() }
}

// scanLoop scans tree 1 of f once per iteration, touching a byte of every
// key and value (as bench/ does), and reports keys per second.
func scanLoop(b *testing.B, f *Forest) {
	rd, _ := f.NewReader()
	defer rd.Release()
	defer scanProfile(b)()
	b.ResetTimer()
	n, items := 0, 0
	for b.Loop() {
		c, _ := rd.Cursor(1, Bounds{})
		for ok := c.First(); ok; ok = c.Next() {
			v, _ := c.Value()
			k := c.Key()
			n += len(k) + len(v) + int(k[0])
			if len(v) > 0 {
				n += int(v[len(v)-1])
			}
			items++
		}
	}
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "keys/s")
	sink = n
}

var sink int
