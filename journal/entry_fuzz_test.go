package journal

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// FuzzEntry feeds arbitrary bytes to the decoder. It must never panic, and
// whatever it accepts must re-encode to an entry that decodes equal: the
// bytes may differ from the input (skipped unknown keys, other integer
// widths, keys in another order), but the re-encoding is sop's canonical one
// and is stable.
func FuzzEntry(f *testing.F) {
	golden, _ := hex.DecodeString(goldenHex)
	f.Add(golden)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		e := randEntry(rng)
		if b, err := e.MarshalBinary(); err == nil && len(b) < 2000 {
			f.Add(b)
		}
	}
	f.Add(unknownKeysInput(f))
	f.Add(lenientInput(f))
	for _, b := range lying(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Entry
		if e.UnmarshalBinary(b) != nil {
			return
		}
		// Whatever sop accepts is one well-formed msgpack value to the
		// reference library too.
		r := bytes.NewReader(b[1:])
		if err := msgpack.NewDecoder(r).Skip(); err != nil || r.Len() != 0 {
			t.Fatalf("msgpack does not read it as one value: %v, %d bytes left", err, r.Len())
		}
		b2, err := e.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded entry does not encode: %v", err)
		}
		var e2 Entry
		if err := e2.UnmarshalBinary(b2); err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("round trip differs:\n%+v\n%+v", e, e2)
		}
		if b3, _ := e2.MarshalBinary(); !bytes.Equal(b2, b3) {
			t.Fatalf("canonical encoding is not stable")
		}
	})
}
