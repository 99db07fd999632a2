package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/sopd/sop/client"
	"github.com/spf13/cobra"
)

func newPutCmd(st *streams) *cobra.Command {
	var (
		asString, doc, ifAbsent bool
		ifVersion               uint64
		idemKey                 string
	)
	cmd := &cobra.Command{
		Use:   "put STORE KEY VALUE",
		Short: "Write an item",
		Long: `Write VALUE, a JSON value, under KEY in STORE and print {"seq":N}: the seq of
the commit, which is the item's new version.

VALUE "-" reads the value from standard input. --string stores VALUE as a JSON
string instead (from standard input without its final newline).

In a store with an index, KEY is the JSON array of the indexed fields' values
(e.g. '["Smith",42]') and VALUE must be a JSON object whose fields give that
key; or pass --doc with just STORE DOCUMENT, and the store computes the key
and prints {"seq":N,"key":[...]}.

--if-version V writes only if the item is at version V; --if-absent only if it
does not exist: otherwise the answer is 409 condition_failed and nothing is
written. --idempotency-key K makes a retry of the same write safe.`,
		Example: `  sopd put accounts alice '{"balance":100}'
  sopd put notes n1 'hello world' --string
  cat doc.json | sopd put accounts bob -
  sopd put accounts alice '{"balance":90}' --if-version 7
  sopd put people --doc '{"last":"Smith","age":42}'
  sopd put people '["Smith",42]' '{"last":"Smith","age":42}'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if doc {
				return argsFor("STORE", "DOCUMENT")(cmd, args)
			}
			return argsFor("STORE", "KEY", "VALUE")(cmd, args)
		},
	}
	r := addRemote(cmd)
	fs := cmd.Flags()
	boolFlag(fs, &asString, "string", "store VALUE as a JSON string")
	boolFlag(fs, &doc, "doc", "put a document into an index store under the key its fields give (args: STORE DOCUMENT)")
	fs.Var(&seqValue{&ifVersion}, "if-version", "write only if the item is at this version")
	boolFlag(fs, &ifAbsent, "if-absent", "write only if the item does not exist")
	fs.StringVar(&idemKey, "idempotency-key", "", "a unique id for this write, so that retrying it is safe")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := r.client()
		if err != nil {
			return err
		}
		value, err := readValue(st.in, args[len(args)-1], asString)
		if err != nil {
			return err
		}
		ctx, cancel := r.call(cmd.Context())
		defer cancel()
		opts := client.PutOptions{IfVersion: ifVersion, IfAbsent: ifAbsent, IdempotencyKey: idemKey}
		if doc {
			seq, key, err := c.PutDoc(ctx, r.domain, args[0], value, opts)
			if err != nil {
				return r.explain(err)
			}
			return printJSON(st.out, struct {
				Seq uint64     `json:"seq"`
				Key client.Key `json:"key"`
			}{seq, key})
		}
		seq, err := c.Put(ctx, r.domain, args[0], client.StringKey(args[1]), value, opts)
		if err != nil {
			return r.explain(err)
		}
		return printJSON(st.out, seqAnswer{seq})
	}
	return cmd
}

// seqAnswer is the answer of a write.
type seqAnswer struct {
	Seq uint64 `json:"seq"`
}

// readValue is the value argument as JSON: arg itself, or standard input
// for "-"; with asString, that text as a JSON string.
func readValue(in io.Reader, arg string, asString bool) (json.RawMessage, error) {
	text := arg
	if arg == "-" {
		b, err := io.ReadAll(in)
		if err != nil {
			return nil, fmt.Errorf("read the value from standard input: %w", err)
		}
		text = string(b)
		if asString {
			text = strings.TrimSuffix(strings.TrimSuffix(text, "\n"), "\r")
		}
	}
	if asString {
		b, err := json.Marshal(text)
		return b, err
	}
	if !json.Valid([]byte(text)) {
		return nil, fmt.Errorf("the value is not JSON: write it as JSON (a string is quoted: '\"text\"'), or pass --string to store it as a string")
	}
	return json.RawMessage(strings.TrimSpace(text)), nil
}
