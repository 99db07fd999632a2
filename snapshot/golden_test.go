package snapshot

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// goldenHex is the example file of docs/FORMAT.md ("Snapshot file").
const goldenHex = "534f50534e41500001260000000473686f7007026e318080d0e2c6bfce972f0c01020105757365727301030001057573657273edcc81ec011a0000001c0000001a64000003616e6e0b057b22616765223a33317d0003016103067b7d492a9abe0202000000000000000000000000000000000000000000000000000000000000000000000000000000d98c2086"

func goldenFile(t *testing.T) []byte {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{
		Domain: "shop", Seq: 7, Node: "n1", Created: 1700000000000000000,
		Catalog: []byte("\x01\x02\x01\x05users\x01\x03\x00"), Stores: []string{"users"},
	}, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ key, value string }{{"ann", "\x05{\"age\":31}"}, {"anna", "\x06{}"}} {
		if err := w.Add(0, []byte(r.key), []byte(r.value)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(Trailer{Records: 2, StateHash: make([]byte, HashSize)}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	got := hex.EncodeToString(goldenFile(t))
	if got != goldenHex {
		t.Fatalf("the example file encodes to\n%s\nwant (docs/FORMAT.md)\n%s", got, goldenHex)
	}
}
