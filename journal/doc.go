// Package journal is sop's execution log: the committed transactions of each
// domain, in commit order, in one NATS JetStream stream per domain.
//
// # The Journal interface
//
// Journal (journal.go) is one domain's log: Append a group of messages
// fenced on the expected last seq, Read and Follow from a seq, Bounds, and
// Purge below a seq. Each error case has its sentinel and, where the caller
// needs data, a typed error: *FencedError (the actual last seq),
// *DuplicateError (a message id already appended), *CompactedError (the
// first retained seq), *PartialError (a split append stored only some
// parts), ErrTooLarge and ErrUnavailable. Memory implements it for tests
// and Stream on JetStream (docs/JETSTREAM.md records the server behaviour
// it relies on); StartServer runs the embedded nats-server of standalone
// mode. Package journaltest is the conformance suite both pass.
//
// # Entry format
//
// A committed transaction is one Entry, the payload of one JetStream message
// in its domain's stream. The message's Nats-Msg-Id header is the entry's
// TxID, so JetStream drops a retried commit inside its duplicate window. The
// message's stream sequence is the transaction's seq: its commit version, the
// version of every item it writes and its change-stream position. The entry
// does not hold its own seq.
//
// Every consumer decodes the same bytes: the projector, replay, change
// streams, and any NATS client in any language. An encoded entry is
//
//	byte 0    format version: 1 (FormatVersion)
//	byte 1..  one MessagePack map, and nothing after it
//
// The entry carries no checksum of its own: JetStream's file store
// checksums every message record, and the decoder rejects any payload that
// is not a well-formed, valid entry.
//
// The map's keys are one-letter strings (types are MessagePack families:
// uint and int accept every integer encoding whose value fits):
//
//	entry  type           field        meaning
//	"i"    str            TxID         transaction id; the message's Nats-Msg-Id
//	"d"    str            Domain       the domain whose journal holds the entry
//	"r"    uint           ReadVersion  the seq the transaction read at; 0: blind write
//	"n"    str            Node         the node that committed it; may be empty
//	"t"    int            Time         commit time, Unix ns; informational only
//	"c"    array of cond  Conds        conditions the leader checked
//	"o"    array of op    Ops          the writes, applied in order
//
//	op     type           used by               field
//	"k"    uint           every op              Kind: 1 put, 2 delete, 3 create-store, 4 drop-store
//	"s"    str            every op              Store
//	"y"    bin            put, delete           Key
//	"v"    bin            put                   Value (may be empty)
//	"x"    array of map   create-store          Index (may be empty): {"f": str Field, "d": bool Desc}
//
//	cond   type           used by               field
//	"k"    uint           every cond            Kind: 1 version, 2 absent, 3 present
//	"s"    str            every cond            Store
//	"y"    bin            every cond            Key
//	"v"    uint           version               Version: the item's version (seq) must equal it
//
// Keys and values are opaque bytes to the journal. Conditions are recorded
// for audit and for replay checks; the projector applies Ops only.
//
// Writers: sop writes the seven entry keys in the order above, each op and
// cond with exactly the keys its kind uses in the order above, integers in
// their shortest form, names as str and keys and values as bin; one entry
// therefore always encodes to the same bytes.
//
// Readers (sop's, and the rules a decoder in another language should
// follow): keys may come in any order, but at most once per map; a missing
// key or a nil value reads as the field's zero value; str and bin are both
// accepted for any string or byte field; a negative value in a uint field is
// an error; bytes after the map are an error.
//
// Forward compatibility: a reader skips keys it does not know, whatever
// their value, so a later release may add optional keys within format
// version 1. A change that an older reader must not silently ignore gets a
// new format version, which older readers reject.
//
// Validity (Validate, checked when encoding and after decoding):
//
//   - TxID is 1 to MaxTxIDSize (128) bytes of visible ASCII, 0x21-0x7e.
//   - Domain is 1 to MaxDomainName (255) bytes; Node at most MaxNodeName
//     (255) and may be empty; store names 1 to MaxStoreName (255) bytes;
//     index field names 1 to MaxFieldName (255) bytes. Every name is valid
//     UTF-8 without control characters.
//   - At most MaxConds (65536) conditions and MaxOps (65536) ops. An entry
//     with no ops is valid and writes nothing.
//   - Kinds are the ones listed above; an op or cond has no field its kind
//     does not use.
//   - Keys of puts, deletes and conditions are 1 to MaxKeySize (4096)
//     bytes; values at most MaxValueSize (16 MiB).
//   - An index has at most MaxIndexFields (64) fields, with distinct names.
//   - A version condition has a Version other than 0.
//
// The whole entry must also fit in one JetStream message (the server's
// max_payload). The decoder checks every declared length against these
// limits and against the bytes left in the input before it allocates, so a
// short input that declares a huge array or string costs nothing.
//
// Errors: every encode or decode failure wraps ErrBadEntry and names what is
// wrong, e.g. "journal: bad entry: op 3: put without a key".
package journal
