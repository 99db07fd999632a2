package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/sopd/sop/internal/testseed"

	"github.com/vmihailenco/msgpack/v5"
)

// testSeed returns the seed for a randomized test and logs how to replay it.
func testSeed(t testing.TB) uint64 {
	t.Helper()
	return testseed.Seed(t)
}

// goldenEntry is the example in docs/FORMAT.md.
func goldenEntry() Entry {
	return Entry{
		TxID:        "tx1",
		Domain:      "shop",
		ReadVersion: 7,
		Node:        "n1",
		Time:        1_700_000_000_000_000_000,
		Conds:       []Cond{{Kind: CondVersion, Store: "users", Key: []byte("ann"), Version: 5}},
		Ops:         []Op{{Kind: OpPut, Store: "users", Key: []byte("ann"), Value: []byte(`{"age":31}`)}},
	}
}

// goldenHex is goldenEntry's encoding. It must never change within format
// version 1: every journal ever written holds entries like it.
const goldenHex = "01" + // format version
	"87" + // map of 7
	"a169" + "a3747831" + // "i": "tx1"
	"a164" + "a473686f70" + // "d": "shop"
	"a172" + "07" + // "r": 7
	"a16e" + "a26e31" + // "n": "n1"
	"a174" + "cf17979cfe362a0000" + // "t": 1700000000000000000
	"a163" + "91" + // "c": array of 1
	"84" + "a16b01" + "a173a57573657273" + "a179c403616e6e" + "a17605" + // {k:1 s:"users" y:"ann" v:5}
	"a16f" + "91" + // "o": array of 1
	"84" + "a16b01" + "a173a57573657273" + "a179c403616e6e" + // {k:1 s:"users" y:"ann"
	"a176c40a7b22616765223a33317d" // v:'{"age":31}'}

func TestGolden(t *testing.T) {
	e := goldenEntry()
	b, err := e.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b); got != goldenHex {
		t.Fatalf("encoding changed:\ngot  %s\nwant %s", got, goldenHex)
	}
	want, _ := hex.DecodeString(goldenHex)
	var d Entry
	if err := d.UnmarshalBinary(want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, e) {
		t.Fatalf("decoded %+v, want %+v", d, e)
	}
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 0))
	var entries []Entry
	for _, n := range []int{15, 16, 65535, MaxOps} { // msgpack's fixarray and array16 boundaries
		e := randEntry(rng)
		e.Ops = make([]Op, n)
		for i := range e.Ops {
			e.Ops[i] = Op{Kind: OpDelete, Store: "s", Key: []byte{byte(i)}}
		}
		entries = append(entries, e)
	}
	for range 500 {
		entries = append(entries, randEntry(rng))
	}
	var buf []byte
	for i, e := range entries {
		b, err := e.MarshalBinary()
		if err != nil {
			t.Fatalf("entry %d: marshal: %v", i, err)
		}
		if len(b) > e.maxSize() {
			t.Fatalf("entry %d: %d bytes, maxSize said %d", i, len(b), e.maxSize())
		}
		prefix := []byte("prefix")
		buf, err = e.AppendBinary(append(buf[:0], prefix...))
		if err != nil || !bytes.Equal(buf[:len(prefix)], prefix) || !bytes.Equal(buf[len(prefix):], b) {
			t.Fatalf("entry %d: AppendBinary differs from MarshalBinary (err %v)", i, err)
		}
		var d Entry
		if err := d.UnmarshalBinary(b); err != nil {
			t.Fatalf("entry %d: unmarshal: %v\n%x", i, err, b)
		}
		if !reflect.DeepEqual(d, e) {
			t.Fatalf("entry %d: round trip differs:\ngot  %+v\nwant %+v", i, d, e)
		}
		if again, _ := d.MarshalBinary(); !bytes.Equal(again, b) {
			t.Fatalf("entry %d: re-encoding differs", i)
		}
	}
}

// randEntry returns a valid entry, with nil for every empty slice, as the
// decoder produces.
func randEntry(rng *rand.Rand) Entry {
	e := Entry{
		TxID:        randTxID(rng),
		Domain:      randName(rng, 1+rng.IntN(20)),
		ReadVersion: randUint(rng),
		Time:        int64(randUint(rng)),
	}
	if rng.IntN(2) == 0 {
		e.Node = randName(rng, rng.IntN(40))
	}
	for range rng.IntN(4) {
		c := Cond{Kind: CondKind(1 + rng.IntN(3)), Store: randName(rng, 1+rng.IntN(10)), Key: randBytes(rng, 1+rng.IntN(40))}
		if c.Kind == CondVersion {
			c.Version = 1 + randUint(rng)%math.MaxUint64
		}
		e.Conds = append(e.Conds, c)
	}
	for range rng.IntN(8) {
		e.Ops = append(e.Ops, randOp(rng))
	}
	return e
}

func randOp(rng *rand.Rand) Op {
	o := Op{Kind: OpKind(1 + rng.IntN(4)), Store: randName(rng, 1+rng.IntN(MaxStoreName))}
	switch o.Kind {
	case OpPut:
		o.Key = randBytes(rng, 1+rng.IntN(300))
		sizes := []int{0, 1, 31, 32, 255, 256, 65535, 65536, 100000}
		o.Value = randBytes(rng, sizes[rng.IntN(len(sizes))])
	case OpDelete:
		o.Key = randBytes(rng, 1+rng.IntN(MaxKeySize))
	case OpCreateStore:
		for i := range rng.IntN(5) {
			o.Index = append(o.Index, IndexField{Field: fmt.Sprintf("f%d.%s", i, randName(rng, rng.IntN(8))), Desc: rng.IntN(2) == 0})
		}
	}
	return o
}

// randUint returns integers of every msgpack width.
func randUint(rng *rand.Rand) uint64 {
	return rng.Uint64() >> rng.IntN(64)
}

func randTxID(rng *rand.Rand) string {
	b := make([]byte, 1+rng.IntN(MaxTxIDSize))
	for i := range b {
		b[i] = byte(0x21 + rng.IntN(0x7f-0x21))
	}
	return string(b)
}

func randName(rng *rand.Rand, n int) string {
	const alphabet = "abcXYZ019_-./ é日本"
	var s strings.Builder
	for s.Len() < n {
		r := []rune(alphabet)[rng.IntN(len([]rune(alphabet)))]
		if s.Len()+len(string(r)) > n {
			r = 'a'
		}
		s.WriteRune(r)
	}
	return s.String()
}

func randBytes(rng *rand.Rand, n int) []byte {
	if n == 0 {
		return nil
	}
	b := make([]byte, n+7)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	return b[:n:n]
}

// TestMatchesMsgpack checks the hand-written codec against the msgpack
// library: sop's bytes are what msgpack.Encoder writes for the same calls,
// and the library's reflection decoder reads them back into the same entry.
func TestMatchesMsgpack(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 0))
	entries := []Entry{goldenEntry(), typicalEntry(), {TxID: "a", Domain: "b", Time: math.MinInt64, ReadVersion: math.MaxUint64}}
	for _, v := range []int64{-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1} {
		entries = append(entries, Entry{TxID: "a", Domain: "b", Time: v, ReadVersion: uint64(v)})
	}
	for range 300 {
		entries = append(entries, randEntry(rng))
	}
	for i, e := range entries {
		b, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if want := libEncode(&e); !bytes.Equal(b, want) {
			t.Fatalf("entry %d: sop wrote\n%x\nmsgpack.Encoder writes\n%x", i, b, want)
		}
		var m libEntry
		if err := msgpack.Unmarshal(b[1:], &m); err != nil {
			t.Fatalf("entry %d: msgpack.Unmarshal: %v", i, err)
		}
		if got := m.entry(); !reflect.DeepEqual(got, e) {
			t.Fatalf("entry %d: msgpack read\n%+v\nwant\n%+v", i, got, e)
		}
	}
}

// libEncode encodes e with msgpack.Encoder's explicit calls, the reference
// for the hand-written encoder.
func libEncode(e *Entry) []byte {
	var buf bytes.Buffer
	buf.WriteByte(FormatVersion)
	enc := msgpack.NewEncoder(&buf)
	str := func(k, v string) { enc.EncodeString(k); enc.EncodeString(v) }
	bin := func(k string, v []byte) { enc.EncodeString(k); enc.EncodeBytesLen(len(v)); buf.Write(v) }
	uint := func(k string, v uint64) { enc.EncodeString(k); enc.EncodeUint(v) }
	enc.EncodeMapLen(7)
	str("i", e.TxID)
	str("d", e.Domain)
	uint("r", e.ReadVersion)
	str("n", e.Node)
	enc.EncodeString("t")
	enc.EncodeInt(e.Time)
	enc.EncodeString("c")
	enc.EncodeArrayLen(len(e.Conds))
	for _, c := range e.Conds {
		enc.EncodeMapLen(map[bool]int{true: 4, false: 3}[c.Kind == CondVersion])
		uint("k", uint64(c.Kind))
		str("s", c.Store)
		bin("y", c.Key)
		if c.Kind == CondVersion {
			uint("v", c.Version)
		}
	}
	enc.EncodeString("o")
	enc.EncodeArrayLen(len(e.Ops))
	for _, o := range e.Ops {
		enc.EncodeMapLen(map[OpKind]int{OpPut: 4, OpDelete: 3, OpCreateStore: 3, OpDropStore: 2}[o.Kind])
		uint("k", uint64(o.Kind))
		str("s", o.Store)
		switch o.Kind {
		case OpPut:
			bin("y", o.Key)
			bin("v", o.Value)
		case OpDelete:
			bin("y", o.Key)
		case OpCreateStore:
			enc.EncodeString("x")
			enc.EncodeArrayLen(len(o.Index))
			for _, f := range o.Index {
				enc.EncodeMapLen(2)
				str("f", f.Field)
				enc.EncodeString("d")
				enc.EncodeBool(f.Desc)
			}
		}
	}
	return buf.Bytes()
}

// libEntry mirrors Entry with msgpack tags, as a client in another language
// would declare it.
type libEntry struct {
	TxID        string `msgpack:"i"`
	Domain      string `msgpack:"d"`
	ReadVersion uint64 `msgpack:"r"`
	Node        string `msgpack:"n"`
	Time        int64  `msgpack:"t"`
	Conds       []struct {
		Kind    uint8  `msgpack:"k"`
		Store   string `msgpack:"s"`
		Key     []byte `msgpack:"y"`
		Version uint64 `msgpack:"v"`
	} `msgpack:"c"`
	Ops []struct {
		Kind  uint8  `msgpack:"k"`
		Store string `msgpack:"s"`
		Key   []byte `msgpack:"y"`
		Value []byte `msgpack:"v"`
		Index []struct {
			Field string `msgpack:"f"`
			Desc  bool   `msgpack:"d"`
		} `msgpack:"x"`
	} `msgpack:"o"`
}

func (m *libEntry) entry() Entry {
	nilIfEmpty := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		return b
	}
	e := Entry{TxID: m.TxID, Domain: m.Domain, ReadVersion: m.ReadVersion, Node: m.Node, Time: m.Time}
	for _, c := range m.Conds {
		e.Conds = append(e.Conds, Cond{CondKind(c.Kind), c.Store, nilIfEmpty(c.Key), c.Version})
	}
	for _, o := range m.Ops {
		op := Op{Kind: OpKind(o.Kind), Store: o.Store, Key: nilIfEmpty(o.Key), Value: nilIfEmpty(o.Value)}
		for _, f := range o.Index {
			op.Index = append(op.Index, IndexField(f))
		}
		e.Ops = append(e.Ops, op)
	}
	return e
}

func TestValidate(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	key := []byte("k")
	put := func(o Op) Entry { e := goldenEntry(); e.Ops = []Op{o}; return e }
	cond := func(c Cond) Entry { e := goldenEntry(); e.Conds = []Cond{c}; return e }
	edit := func(f func(*Entry)) Entry { e := goldenEntry(); f(&e); return e }
	tests := []struct {
		name string
		e    Entry
		want string
	}{
		{"empty tx id", edit(func(e *Entry) { e.TxID = "" }), "tx id is empty"},
		{"long tx id", edit(func(e *Entry) { e.TxID = long(129) }), "tx id of 129 bytes, the limit is 128"},
		{"tx id space", edit(func(e *Entry) { e.TxID = "a b" }), "tx id has byte 0x20 at 1"},
		{"tx id non-ASCII", edit(func(e *Entry) { e.TxID = "é" }), "tx id has byte 0xc3 at 0"},
		{"empty domain", edit(func(e *Entry) { e.Domain = "" }), "domain is empty"},
		{"long domain", edit(func(e *Entry) { e.Domain = long(256) }), "domain of 256 bytes, the limit is 255"},
		{"domain control", edit(func(e *Entry) { e.Domain = "a\nb" }), "domain has control character 0x0a at byte 1"},
		{"domain C1 control", edit(func(e *Entry) { e.Domain = "a\u0085" }), "domain has control character U+0085 at byte 1"},
		{"domain bad UTF-8", edit(func(e *Entry) { e.Domain = "a\xff" }), "domain is not valid UTF-8 at byte 1"},
		{"long node", edit(func(e *Entry) { e.Node = long(256) }), "node of 256 bytes, the limit is 255"},
		{"node DEL", edit(func(e *Entry) { e.Node = "\x7f" }), "node has control character 0x7f at byte 0"},
		{"too many ops", edit(func(e *Entry) { e.Ops = make([]Op, MaxOps+1) }), "65537 ops, the limit is 65536"},
		{"too many conds", edit(func(e *Entry) { e.Conds = make([]Cond, MaxConds+1) }), "65537 conds, the limit is 65536"},
		{"op kind 0", put(Op{Store: "s", Key: key}), "op 0: unknown kind 0"},
		{"op kind 5", put(Op{Kind: 5, Store: "s", Key: key}), "op 0: unknown kind 5"},
		{"op empty store", put(Op{Kind: OpPut, Key: key}), "op 0: store name is empty"},
		{"op long store", put(Op{Kind: OpPut, Store: long(256), Key: key}), "op 0: store name of 256 bytes, the limit is 255"},
		{"op store control", put(Op{Kind: OpDropStore, Store: "a\x00"}), "op 0: store name has control character 0x00 at byte 1"},
		{"put without key", put(Op{Kind: OpPut, Store: "s"}), "op 0: put without a key"},
		{"delete without key", put(Op{Kind: OpDelete, Store: "s"}), "op 0: delete without a key"},
		{"long key", put(Op{Kind: OpPut, Store: "s", Key: make([]byte, MaxKeySize+1)}), "op 0: key of 4097 bytes, the limit is 4096"},
		{"long value", put(Op{Kind: OpPut, Store: "s", Key: key, Value: make([]byte, MaxValueSize+1)}), "op 0: value of 16777217 bytes, the limit is 16777216"},
		{"delete with value", put(Op{Kind: OpDelete, Store: "s", Key: key, Value: key}), "op 0: delete with a value"},
		{"create with key", put(Op{Kind: OpCreateStore, Store: "s", Key: key}), "op 0: create-store with a key"},
		{"create with value", put(Op{Kind: OpCreateStore, Store: "s", Value: key}), "op 0: create-store with a value"},
		{"drop with key", put(Op{Kind: OpDropStore, Store: "s", Key: key}), "op 0: drop-store with a key"},
		{"drop with value", put(Op{Kind: OpDropStore, Store: "s", Value: key}), "op 0: drop-store with a value"},
		{"put with index", put(Op{Kind: OpPut, Store: "s", Key: key, Index: []IndexField{{Field: "a"}}}), "op 0: put with an index"},
		{"drop with index", put(Op{Kind: OpDropStore, Store: "s", Index: []IndexField{{Field: "a"}}}), "op 0: drop-store with an index"},
		{"index field empty", put(Op{Kind: OpCreateStore, Store: "s", Index: []IndexField{{Field: "a"}, {}}}), "op 0: index field 1: name is empty"},
		{"index field long", put(Op{Kind: OpCreateStore, Store: "s", Index: []IndexField{{Field: long(256)}}}), "op 0: index field 0: name of 256 bytes, the limit is 255"},
		{"index field control", put(Op{Kind: OpCreateStore, Store: "s", Index: []IndexField{{Field: "\t"}}}), "op 0: index field 0: name has control character"},
		{"index field duplicate", put(Op{Kind: OpCreateStore, Store: "s", Index: []IndexField{{Field: "a"}, {Field: "b", Desc: true}, {Field: "a", Desc: true}}}), `op 0: index field 2: duplicate name "a"`},
		{"index too long", put(Op{Kind: OpCreateStore, Store: "s", Index: make([]IndexField, MaxIndexFields+1)}), "op 0: index of 65 fields, the limit is 64"},
		{"cond kind 0", cond(Cond{Store: "s", Key: key}), "cond 0: unknown kind 0"},
		{"cond kind 4", cond(Cond{Kind: 4, Store: "s", Key: key}), "cond 0: unknown kind 4"},
		{"cond empty store", cond(Cond{Kind: CondAbsent, Key: key}), "cond 0: store name is empty"},
		{"cond without key", cond(Cond{Kind: CondPresent, Store: "s"}), "cond 0: present condition without a key"},
		{"cond long key", cond(Cond{Kind: CondPresent, Store: "s", Key: make([]byte, MaxKeySize+1)}), "cond 0: key of 4097 bytes, the limit is 4096"},
		{"absent with version", cond(Cond{Kind: CondAbsent, Store: "s", Key: key, Version: 3}), "cond 0: absent condition with a version"},
		{"present with version", cond(Cond{Kind: CondPresent, Store: "s", Key: key, Version: 3}), "cond 0: present condition with a version"},
		{"version 0", cond(Cond{Kind: CondVersion, Store: "s", Key: key}), "cond 0: version condition with version 0"},
		{"second op", edit(func(e *Entry) { e.Ops = append(e.Ops, Op{Kind: OpPut, Store: "s"}) }), "op 1: put without a key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.e.Validate()
			if !errors.Is(err, ErrBadEntry) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate: %v, want ErrBadEntry naming %q", err, tt.want)
			}
			if b, err := tt.e.AppendBinary([]byte("x")); !errors.Is(err, ErrBadEntry) || string(b) != "x" {
				t.Fatalf("AppendBinary: %q, %v; want the input back and ErrBadEntry", b, err)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	for _, e := range []Entry{
		{TxID: "a", Domain: "d"}, // no ops: a valid, empty transaction
		{TxID: strings.Repeat("~", MaxTxIDSize), Domain: strings.Repeat("é", MaxDomainName/2), Node: "節点"},
		{TxID: "a", Domain: "d", Ops: []Op{
			{Kind: OpCreateStore, Store: "s"},
			{Kind: OpCreateStore, Store: "t", Index: []IndexField{{Field: "a"}, {Field: "b", Desc: true}}},
			{Kind: OpPut, Store: "s", Key: make([]byte, MaxKeySize)},
			{Kind: OpPut, Store: "s", Key: []byte{0}, Value: []byte{}},
			{Kind: OpDelete, Store: "s", Key: []byte{0}},
			{Kind: OpDropStore, Store: "s"},
		}},
	} {
		if err := e.Validate(); err != nil {
			t.Errorf("%+v: %v", e, err)
		}
	}
}

func TestVersionByte(t *testing.T) {
	b, _ := hex.DecodeString(goldenHex)
	for _, v := range []byte{0, 2, 0x87, 0xff} {
		b[0] = v
		var e Entry
		err := e.UnmarshalBinary(b)
		want := fmt.Sprintf("format version %d, this build reads version 1", v)
		if !errors.Is(err, ErrBadEntry) || !strings.Contains(err.Error(), want) {
			t.Errorf("version %d: %v, want an error saying %q", v, err, want)
		}
	}
}

func TestTruncated(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 0))
	golden, _ := hex.DecodeString(goldenHex)
	inputs := [][]byte{golden}
	for range 20 {
		e := randEntry(rng)
		if b, err := e.MarshalBinary(); err == nil && len(b) < 4000 {
			inputs = append(inputs, b)
		}
	}
	for _, b := range inputs {
		for n := range len(b) {
			e := goldenEntry()
			err := e.UnmarshalBinary(b[:n])
			if !errors.Is(err, ErrBadEntry) {
				t.Fatalf("prefix %d of %x: %v, want ErrBadEntry", n, b, err)
			}
			if !reflect.DeepEqual(e, goldenEntry()) {
				t.Fatalf("prefix %d: a failed decode changed the entry", n)
			}
		}
	}
}

// raw builds an input from a version byte and msgpack values written by
// hand, for inputs sop's encoder would never produce.
func raw(t testing.TB, build func(enc *msgpack.Encoder)) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteByte(FormatVersion)
	build(msgpack.NewEncoder(&buf))
	return buf.Bytes()
}

// validHead writes the fields of a minimal valid entry: "i" and "d".
func validHead(enc *msgpack.Encoder) {
	enc.EncodeString("i")
	enc.EncodeString("t")
	enc.EncodeString("d")
	enc.EncodeString("d")
}

// lying holds inputs a few bytes long that declare huge lengths.
func lying(t testing.TB) map[string][]byte {
	u32 := func(code byte, n uint32) []byte {
		return []byte{code, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	withField := func(key string, value []byte) []byte {
		return append(raw(t, func(enc *msgpack.Encoder) { enc.EncodeMapLen(3); validHead(enc); enc.EncodeString(key) }), value...)
	}
	inOp := func(key string, value []byte) []byte {
		return append(raw(t, func(enc *msgpack.Encoder) {
			enc.EncodeMapLen(3)
			validHead(enc)
			enc.EncodeString("o")
			enc.EncodeArrayLen(1)
			enc.EncodeMapLen(2)
			enc.EncodeString("k")
			enc.EncodeUint(1)
			enc.EncodeString(key)
		}), value...)
	}
	return map[string][]byte{
		"entry map32":         append([]byte{1}, u32(0xdf, math.MaxUint32)...),
		"ops array32":         withField("o", u32(0xdd, 1<<31)),
		"ops array32 max":     withField("o", u32(0xdd, MaxOps)),
		"conds array32":       withField("c", u32(0xdd, math.MaxUint32)),
		"tx id str32":         append([]byte{1, 0x81, 0xa1, 'i'}, u32(0xdb, math.MaxUint32)...),
		"node str32":          withField("n", u32(0xdb, 1<<31)),
		"key bin32":           inOp("y", u32(0xc6, math.MaxUint32)),
		"value bin32":         inOp("v", u32(0xc6, MaxValueSize)),
		"store str32":         inOp("s", u32(0xdb, 200)),
		"index array32":       inOp("x", u32(0xdd, 1<<31)),
		"op map32":            withField("o", append([]byte{0x91}, u32(0xdf, 1<<30)...)),
		"unknown bin32":       withField("zz", u32(0xc6, math.MaxUint32)),
		"unknown array32":     withField("zz", u32(0xdd, math.MaxUint32)),
		"unknown map32":       withField("zz", u32(0xdf, math.MaxUint32)),
		"unknown ext32":       withField("zz", append(u32(0xc9, math.MaxUint32), 1)),
		"unknown nested":      withField("zz", bytes.Repeat([]byte{0x91}, 10000)),
		"unknown nested maps": withField("zz", bytes.Repeat([]byte{0x81, 0xa0}, 10000)),
		"unknown wide array":  withField("zz", append(u32(0xdd, 100), bytes.Repeat(u32(0xdd, 100), 100)...)),
		"map key str32":       append([]byte{1, 0x81}, u32(0xdb, math.MaxUint32)...),
	}
}

func TestLyingLengths(t *testing.T) {
	for name, b := range lying(t) {
		t.Run(name, func(t *testing.T) {
			var e Entry
			if err := e.UnmarshalBinary(b); !errors.Is(err, ErrBadEntry) {
				t.Fatalf("%v, want ErrBadEntry", err)
			} else {
				t.Log(err)
			}
			// Measure bytes, not allocations: the danger is one huge make.
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			const runs = 20
			for range runs {
				_ = e.UnmarshalBinary(b)
			}
			runtime.ReadMemStats(&after)
			if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 4096+uint64(len(b)) {
				t.Fatalf("%d bytes allocated per decode of a %d-byte input", per, len(b))
			}
		})
	}
}

func TestUnknownKeysSkipped(t *testing.T) {
	var e Entry
	if err := e.UnmarshalBinary(unknownKeysInput(t)); err != nil {
		t.Fatal(err)
	}
	want := Entry{TxID: "tx9", Domain: "shop", Ops: []Op{{Kind: OpCreateStore, Store: "users", Index: []IndexField{{Field: "age", Desc: true}}}}}
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("got %+v, want %+v", e, want)
	}
}

// unknownKeysInput is a valid entry with keys this version does not define,
// at every level, holding values of every msgpack type.
func unknownKeysInput(t testing.TB) []byte {
	return raw(t, func(enc *msgpack.Encoder) {
		enc.EncodeMapLen(6)
		enc.EncodeString("zz") // before the known keys, any value
		enc.Encode(map[string]any{"a": []any{1, "x", []byte{1}, nil, true, 1.5, map[string]any{}}})
		enc.EncodeString("d")
		enc.EncodeString("shop")
		enc.EncodeString("q") // a one-letter key this version does not define
		enc.EncodeExtHeader(5, 3)
		enc.Writer().Write([]byte{1, 2, 3})
		enc.EncodeString("o")
		enc.EncodeArrayLen(1)
		enc.EncodeMapLen(5)
		enc.EncodeString("s")
		enc.EncodeString("users")
		enc.EncodeString("future")
		enc.EncodeInt(-5)
		enc.EncodeString("k")
		enc.EncodeUint(3)
		enc.EncodeString("x")
		enc.EncodeArrayLen(1)
		enc.EncodeMapLen(3)
		enc.EncodeString("f")
		enc.EncodeString("age")
		enc.EncodeString("later")
		enc.EncodeFloat64(2.5)
		enc.EncodeString("d")
		enc.EncodeBool(true)
		enc.EncodeString("")
		enc.EncodeNil()
		enc.EncodeString("i")
		enc.EncodeString("tx9")
		enc.EncodeString("\x00")
		enc.EncodeString("nul key")
	})
}

func TestDeepUnknownValueSkipped(t *testing.T) {
	b := raw(t, func(enc *msgpack.Encoder) { enc.EncodeMapLen(3); validHead(enc); enc.EncodeString("zz") })
	b = append(b, bytes.Repeat([]byte{0x91}, 1_000_000)...) // [[[...[nil]...]]]: no recursion, no stack
	b = append(b, 0xc0)
	var e Entry
	if err := e.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if want := (Entry{TxID: "t", Domain: "d"}); !reflect.DeepEqual(e, want) {
		t.Fatalf("got %+v, want %+v", e, want)
	}
}

// TestDecodeLenient: what another encoder may legitimately write decodes
// like sop's own encoding.
func TestDecodeLenient(t *testing.T) {
	var e Entry
	if err := e.UnmarshalBinary(lenientInput(t)); err != nil {
		t.Fatal(err)
	}
	want := Entry{TxID: "tx", Domain: "dom", ReadVersion: 9, Time: -3, Ops: []Op{
		{Kind: OpPut, Store: "store as bin", Key: []byte("key as str"), Value: []byte("value as str")},
		{Kind: OpPut, Store: "t", Key: []byte("k")},
	}}
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("got %+v, want %+v", e, want)
	}
}

func lenientInput(t testing.TB) []byte {
	return raw(t, func(enc *msgpack.Encoder) {
		enc.EncodeMapLen(7)
		enc.EncodeString("o") // keys in any order
		enc.EncodeArrayLen(2)
		enc.EncodeMapLen(4)
		enc.EncodeString("v")
		enc.EncodeString("value as str")
		enc.EncodeString("y")
		enc.EncodeString("key as str")
		enc.EncodeString("s")
		enc.EncodeBytes([]byte("store as bin"))
		enc.EncodeString("k")
		enc.EncodeInt64(1) // a wide signed integer
		enc.EncodeMapLen(4)
		enc.EncodeString("k")
		enc.EncodeUint8(1)
		enc.EncodeString("s")
		enc.EncodeString("t")
		enc.EncodeString("y")
		enc.EncodeBytes([]byte("k"))
		enc.EncodeString("v")
		enc.EncodeNil() // nil: the zero value
		enc.EncodeString("r")
		enc.EncodeInt32(9)
		enc.EncodeString("t")
		enc.EncodeInt8(-3)
		enc.EncodeString("n")
		enc.EncodeNil()
		enc.EncodeString("c")
		enc.EncodeNil()
		enc.EncodeString("i")
		enc.EncodeString("tx")
		enc.EncodeString("d")
		enc.EncodeBytes([]byte("dom"))
	})
}

func TestDecodeRejects(t *testing.T) {
	golden, _ := hex.DecodeString(goldenHex)
	entry := func(fields ...func(*msgpack.Encoder)) []byte {
		return raw(t, func(enc *msgpack.Encoder) {
			enc.EncodeMapLen(2 + len(fields))
			validHead(enc)
			for _, f := range fields {
				f(enc)
			}
		})
	}
	field := func(k string, v any) func(*msgpack.Encoder) {
		return func(enc *msgpack.Encoder) { enc.EncodeString(k); enc.Encode(v) }
	}
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "empty input"},
		{"trailing bytes", append(bytes.Clone(golden), 0xc0), "1 trailing bytes after the entry"},
		{"not a map", []byte{1, 0x93, 1, 2, 3}, "want a map, got code 0x93"},
		{"ext before map", append([]byte{1, 0xd4, 1, 1}, golden[1:]...), "want a map, got code 0xd4"},
		{"duplicate key", entry(field("d", "again")), `key "d" appears twice`},
		{"int map key", raw(t, func(enc *msgpack.Encoder) { enc.EncodeMapLen(1); enc.EncodeInt(1); enc.EncodeInt(1) }), "map key: want a string, got code 0x01"},
		{"bin map key", raw(t, func(enc *msgpack.Encoder) { enc.EncodeMapLen(1); enc.EncodeBytes([]byte("i")); enc.EncodeInt(1) }), "map key: want a string, got code 0xc4"},
		{"negative read version", entry(field("r", -1)), `field "r": negative value -1`},
		{"float read version", entry(field("r", 1.0)), `field "r": want an integer, got code 0xcb`},
		{"time overflow", entry(field("t", uint64(math.MaxUint64))), `field "t": value 18446744073709551615 overflows int64`},
		{"int domain", raw(t, func(enc *msgpack.Encoder) { enc.EncodeMapLen(1); enc.EncodeString("d"); enc.EncodeInt(5) }), `field "d": want a string or bytes, got code 0x05`},
		{"ops not array", entry(field("o", "x")), `field "o": want an array`},
		{"op not map", entry(field("o", []any{1})), `field "o": op 0: want a map`},
		{"op kind 256", entry(field("o", []any{map[string]any{"k": 256, "s": "s"}})), `op 0: field "k": unknown kind 256`},
		{"op kind negative", entry(field("o", []any{map[string]any{"k": -1, "s": "s"}})), `op 0: field "k": negative value -1`},
		{"op kind missing", entry(field("o", []any{map[string]any{"s": "s", "y": "k"}})), "op 0: unknown kind 0"},
		{"cond kind 300", entry(field("c", []any{map[string]any{"k": 300}})), `cond 0: field "k": unknown kind 300`},
		{"key over limit", entry(field("o", []any{map[string]any{"k": 1, "s": "s", "y": make([]byte, MaxKeySize+1)}})), `op 0: field "y": 4097 bytes, the limit is 4096`},
		{"tx id over limit", raw(t, func(enc *msgpack.Encoder) {
			enc.EncodeMapLen(1)
			enc.EncodeString("i")
			enc.EncodeString(strings.Repeat("a", 129))
		}), `field "i": 129 bytes, the limit is 128`},
		{"too many ops", entry(field("o", make([]any, MaxOps+1))), `field "o": array of 65537 elements, the limit is 65536`},
		{"index too long", entry(field("o", []any{map[string]any{"k": 3, "s": "s", "x": make([]any, 65)}})), `array of 65 elements, the limit is 64`},
		{"bad desc", entry(field("o", []any{map[string]any{"k": 3, "s": "s", "x": []any{map[string]any{"f": "a", "d": 1}}}})), `op 0: field "x": index field 0: field "d"`},
		{"invalid after decode", entry(field("o", []any{map[string]any{"k": 2, "s": "s"}})), "op 0: delete without a key"},
		{"unused code 0xc1", append(entry(func(enc *msgpack.Encoder) { enc.EncodeString("zz") }), 0xc1), `field "zz": invalid code 0xc1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Entry
			err := e.UnmarshalBinary(tt.b)
			if !errors.Is(err, ErrBadEntry) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%v, want ErrBadEntry naming %q", err, tt.want)
			}
		})
	}
}

func TestKindStrings(t *testing.T) {
	for k, want := range map[fmt.Stringer]string{
		OpPut: "put", OpDelete: "delete", OpCreateStore: "create-store", OpDropStore: "drop-store", OpKind(9): "OpKind(9)",
		CondVersion: "version", CondAbsent: "absent", CondPresent: "present", CondKind(0): "CondKind(0)",
	} {
		if got := k.String(); got != want {
			t.Errorf("%v: got %q, want %q", want, got, want)
		}
	}
}

// typicalEntry is one put of a 16-byte key and a 256-byte value.
func typicalEntry() Entry {
	return Entry{
		TxID:        "01J9Z3K4W5X6Y7Z8A9B0C1D2E3",
		Domain:      "orders",
		ReadVersion: 123456789,
		Node:        "node-1",
		Time:        1_700_000_000_123_456_789,
		Ops:         []Op{{Kind: OpPut, Store: "customers", Key: bytes.Repeat([]byte("k"), 16), Value: bytes.Repeat([]byte("v"), 256)}},
	}
}

func TestAllocs(t *testing.T) {
	e := typicalEntry()
	buf, _ := e.MarshalBinary()
	if n := testing.AllocsPerRun(100, func() { buf, _ = e.AppendBinary(buf[:0]) }); n != 0 {
		t.Errorf("AppendBinary into a reused buffer: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = e.MarshalBinary() }); n != 1 {
		t.Errorf("MarshalBinary: %v allocations, want 1", n)
	}
	// The output's own allocations: the ops slice, key, value, and the
	// TxID, domain, node and store strings.
	var d Entry
	if n := testing.AllocsPerRun(100, func() { _ = d.UnmarshalBinary(buf) }); n > 7 {
		t.Errorf("UnmarshalBinary: %v allocations, want at most 7", n)
	}
}

func BenchmarkEncode(b *testing.B) {
	e := typicalEntry()
	buf, _ := e.MarshalBinary()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = e.AppendBinary(buf[:0])
	}
}

func BenchmarkMarshal(b *testing.B) {
	e := typicalEntry()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = e.MarshalBinary()
	}
}

func BenchmarkDecode(b *testing.B) {
	e := typicalEntry()
	buf, _ := e.MarshalBinary()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	var d Entry
	for b.Loop() {
		if err := d.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
}
