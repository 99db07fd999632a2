package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sopd/sop/faults"

	"github.com/sopd/sop"
	"github.com/sopd/sop/client"
)

// TestVerifyCommand: two nodes sharing one journal hold the same state; a
// node with its own journal and other data at the same seq does not; and
// nodes at different seqs meet at no common seq.
func TestVerifyCommand(t *testing.T) {
	clearEnv(t)
	ctx := t.Context()
	natsAddr := faults.FreeAddr(t)
	a, urlA, _ := serveNode(t, sop.Options{Dir: t.TempDir(), NATSListen: natsAddr})
	putItems(t, a, 3)
	// b replays a's journal when it opens.
	_, urlB, _ := serveNode(t, sop.Options{Dir: t.TempDir(), NATSURL: "nats://" + natsAddr})
	c, urlC, _ := serveNode(t, sop.Options{Dir: t.TempDir()})
	putItems(t, c, 2)
	if _, err := c.Put(ctx, "default", "s", client.StringKey("k2"), json.RawMessage(`"other"`)); err != nil {
		t.Fatal(err)
	}
	seqA, _, err := a.Hash(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}

	var res struct {
		Seq   *uint64
		Equal bool
		Nodes []struct {
			Endpoint string
			Seq      uint64
			Hash     string
		}
	}
	mustSopd(t, &res, "verify", "--endpoints", urlA+","+urlB)
	if res.Seq == nil || *res.Seq != seqA || !res.Equal || len(res.Nodes) != 2 || res.Nodes[1].Endpoint != urlB || res.Nodes[0].Hash != res.Nodes[1].Hash {
		t.Errorf("verify a,b printed %+v, want equal at seq %d", res, seqA)
	}

	code, out, errs := sopd("verify", "--endpoints", urlA+", "+urlB+","+urlC)
	if code != 1 || !strings.Contains(errs, "hashes differ") || !strings.Contains(errs, urlC) {
		t.Errorf("verify a,b,c: exit %d, stderr %q; want 1 and the hashes differ", code, errs)
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Equal || res.Seq == nil || *res.Seq != seqA || len(res.Nodes) != 3 {
		t.Errorf("verify a,b,c printed %q (%v)", out, err)
	}

	if _, err := c.Put(ctx, "default", "s", client.StringKey("more"), json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	code, out, errs = sopd("verify", "--endpoints", urlA+","+urlC, "--timeout", "500ms")
	if code != 1 || !strings.Contains(errs, "no common seq") || !strings.Contains(out, `"seq":null`) {
		t.Errorf("verify of nodes at different seqs: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if code, _, errs = sopd("verify", "--endpoints", urlA); code != 1 || !strings.Contains(errs, "at least two") {
		t.Errorf("verify of one node: exit %d, %q", code, errs)
	}
}
