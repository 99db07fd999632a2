package index

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// fuzzSpec derives a specification of 1 to 4 fields from one byte: the low
// two bits give the count, the next four which fields are descending.
func fuzzSpec(shape byte) Spec {
	s := fieldsNamed(1 + int(shape&3))
	for i := range s {
		s[i].Desc = shape>>(2+i)&1 == 1
	}
	return s
}

// FuzzDecode feeds hostile bytes to Decode. It must never panic, must
// fail only with ErrBadKey, and whatever it accepts must re-encode to the
// very same bytes (the encoding is canonical).
func FuzzDecode(f *testing.F) {
	g := gen{r: rand.New(rand.NewPCG(3, 4))}
	for shape := range 64 {
		s := fuzzSpec(byte(shape))
		if key, err := s.KeyOf(g.tuple(len(s))); err == nil {
			f.Add(byte(shape), key)
		}
	}
	for _, b := range []string{"", "\x02", "\x05\x7f\xff\xff\xff\xff\xff\xff\xff", "\x06a\x00", "\x06\x00\x02\x00\x01", "\xf9\xff\x00\xff\xfe", "\x02\x02"} {
		f.Add(byte(0), []byte(b))
		f.Add(byte(0xff), []byte(b))
	}
	f.Fuzz(func(t *testing.T, shape byte, key []byte) {
		s := fuzzSpec(shape)
		values, err := s.Decode(key)
		if err != nil {
			if !errors.Is(err, ErrBadKey) {
				t.Fatalf("error %v does not wrap ErrBadKey", err)
			}
			return
		}
		again, err := s.KeyOf(values)
		if err != nil {
			t.Fatalf("decoded %s does not encode: %v", show(values), err)
		}
		if !bytes.Equal(again, key) {
			t.Fatalf("re-encoding differs:\n%x\n%x", key, again)
		}
	})
}

// FuzzKey feeds arbitrary documents to Key. It must never panic, must fail
// only with ErrBadDoc, and a key it returns must decode and re-encode to
// itself.
func FuzzKey(f *testing.F) {
	s := Spec{{Name: "a"}, {Name: "b.c", Desc: true}, {Name: "b.d"}, {Name: "e", Desc: true}}
	for _, doc := range []string{
		`{}`, `{"a":1,"b":{"c":"x","d":null},"e":true}`, `{"a":[1]}`, `{"b":[{"c":1}]}`,
		`{"a":"\u0000","e":-0}`, `{"a":1e400}`, `{"b":{"c":{}}}`, `[]`, `null`, ``, `{"a":1}x`,
		`{"a":1,"a":"dup"}`, `{"b":5,"e":false}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}",
	} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		key, err := s.Key(doc)
		if err != nil {
			if !errors.Is(err, ErrBadDoc) {
				t.Fatalf("error %v does not wrap ErrBadDoc", err)
			}
			return
		}
		if len(key) > MaxKeySize {
			t.Fatalf("key of %d bytes", len(key))
		}
		values, err := s.Decode(key)
		if err != nil {
			t.Fatalf("key %x of %q does not decode: %v", key, doc, err)
		}
		if again, err := s.KeyOf(values); err != nil || !bytes.Equal(again, key) {
			t.Fatalf("re-encoding of %q differs: %x, %v", doc, again, err)
		}
	})
}
