// Package index builds the keys of stores that declare an index
// specification: an ordered list of document fields, each ascending or
// descending. Such a store keys each item by an order-preserving compound
// key built from its JSON document, so that bytes.Compare on keys orders
// documents as the specification does, and a search by leading fields is a
// scan of the keys that start with a Prefix.
//
// # Usage
//
//	spec := index.Spec{{Name: "age"}, {Name: "name", Desc: true}}
//	err := spec.Validate()                           // also checked by every method
//	key, err := spec.Key([]byte(`{"age":31,"name":"ann"}`))
//	key, err = spec.KeyOf([]any{31, "ann"})          // the same key from values
//	p, err := spec.Prefix([]any{31})                 // every key with age 31 starts with p
//	vals, err := spec.Decode(key)                    // []any{31.0, "ann"}
//
// # Order
//
// A field's value is null, a boolean, a number or a string; a missing field
// is null, and objects and arrays cannot be indexed. Values of one field
// order by type first, null < false < true < numbers < strings, then
// numbers by value and strings bytewise (for UTF-8 this is code point
// order). Documents order by their first field, ties by the second, and so
// on; a descending field reverses its own order only.
//
// Numbers are float64, as in JSON's usual reading: integers beyond ±2^53
// may round, so distinct large integers can get the same key. -0 is stored
// as 0; NaN and the infinities are rejected.
//
// # Key layout
//
// A key is the concatenation of its fields' encodings in specification
// order, at most MaxKeySize (4096) bytes in all. An ascending field's
// encoding is a type tag and a body:
//
//	value    tag    body
//	null     0x02   none
//	false    0x03   none
//	true     0x04   none
//	number   0x05   8 bytes: the float64's IEEE 754 bits, big-endian, with
//	                the sign bit flipped if the sign bit is 0 (positives and
//	                +0) and every bit flipped if it is 1 (negatives); -0 is
//	                first made +0, so 0 is 0x80 00 00 00 00 00 00 00
//	string   0x06   the string's bytes, each 0x00 written as 0x00 0xFF,
//	                then the terminator 0x00 0x01
//
// A descending field's encoding is the ascending one with every byte
// inverted (x ^ 0xFF): its tags are 0xFD null, 0xFC false, 0xFB true,
// 0xFA number and 0xF9 string, a 0x00 in its string is 0xFF 0x00 and its
// string terminator is 0xFF 0xFE.
//
// Tag bytes 0x00, 0x01, 0x07 to 0xF8, 0xFE and 0xFF begin no field in
// either direction; they are reserved for later types. A key has no version
// byte, which every key of a store would repeat, and no checksum: the
// journal and the B-tree pages that hold keys are checksummed.
//
// Example: the specification {age ascending, name descending} gives the
// document {"age":31,"name":"ann"} the 15-byte key (pinned by TestGolden)
//
//	05 c0 3f 00 00 00 00 00 00    age: number 31 (bits 0x403f000000000000, sign bit flipped)
//	f9 9e 91 91 ff fe             name: string "ann" (06 61 6e 6e 00 01), inverted
//
// # Why byte order is the specification's order
//
// Each ascending encoding preserves order: different types differ in their
// tag; numbers have the same length and the bit transform is monotonic;
// strings compare as their bytes do, because a 0x00 in a string becomes
// 0x00 0xFF, which sorts above the terminator 0x00 0x01 that ends a shorter
// string and below any other byte, and no body byte is below 0x00.
//
// Each encoding is also prefix-free: no field's encoding is a proper
// prefix of another's of the same field. Tags and number bodies have fixed
// lengths, and a string ends at its first unescaped 0x00 0x01. So two
// different values' encodings differ at some byte inside both, and that
// byte alone decides their order. Inverting every byte reverses the order
// of every such pair and so reverses the field's order exactly; inversion
// keeps encodings prefix-free. (Without prefix-freedom inversion would not
// do: "a" < "ab" would stay "a" < "ab" after inverting, as a prefix still
// sorts first.)
//
// Two keys with equal leading fields have equal leading bytes, and at the
// first field that differs they differ at a byte inside both field
// encodings, which decides bytes.Compare before any later field is
// reached. Hence bytes.Compare orders keys exactly as the specification
// orders their values, and the keys whose first fields equal given values
// are exactly those that start with the encoding of those values (Prefix).
//
// The encoding is canonical: equal values have equal encodings, and Decode
// accepts only what KeyOf produces (no -0, NaN or infinity, no escape other
// than 0x00 0xFF and 0x00 0x01, no bytes after the last field).
//
// The layout follows FoundationDB's tuple layer: type-ordered tags, its
// escape of 0x00 as 0x00 0xFF and its float transform. Its strings end in
// a lone 0x00; the terminator 0x00 0x01 here makes a string's end plain
// without looking at the byte after it.
//
// # Errors
//
// Every error wraps ErrBadSpec, ErrBadDoc or ErrBadKey and names what is
// wrong, e.g. `index: bad document: index field "a.b" is an object: index
// fields must be strings, numbers, booleans or null`.
package index
