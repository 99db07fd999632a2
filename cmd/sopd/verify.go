package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sopd/sop/client"
	"github.com/spf13/cobra"
)

// verifyPoll is how often verify asks again while the nodes' seqs differ.
const verifyPoll = 200 * time.Millisecond

// verifyNode is one node's answer, as printed.
type verifyNode struct {
	Endpoint string `json:"endpoint"`
	Seq      uint64 `json:"seq"`
	Hash     string `json:"hash"`
}

// verifyResult is what verify prints. Seq is null when the nodes never
// answered at one seq.
type verifyResult struct {
	Seq   *uint64      `json:"seq"`
	Equal bool         `json:"equal"`
	Nodes []verifyNode `json:"nodes"`
}

func newVerifyCmd(st *streams) *cobra.Command {
	var endpoints string
	cmd := &cobra.Command{
		Use:   "verify --endpoints URL1,URL2,...",
		Short: "Check that several nodes hold the same state",
		Long: `Compare the state hashes of one domain on several nodes at the same seq.

Each node's GET /v1/domains/{d}/hash answers the hash of its whole projected
state at the seq it has applied. While the nodes answer different seqs (some
are still applying), verify asks again every 200ms until all answer the same
seq or --timeout passes. It prints
{"seq":N,"equal":bool,"nodes":[{"endpoint","seq","hash"}]} ("seq" is null
when no common seq was reached) and exits with status 1, saying which, when
the hashes differ or the nodes never met at one seq. Under a steady stream of
writes they may not: run it when writes pause.

The token and TLS flags apply to every endpoint.`,
		Example: `  sopd verify --endpoints http://10.0.0.1:7070,http://10.0.0.2:7070
  sopd verify --endpoints https://a:7070,https://b:7070 --domain orders --token-file ~/.sop-token --timeout 2m`,
		Args: argsFor(),
	}
	r := &remote{}
	cmd.Flags().StringVar(&endpoints, "endpoints", "", "the nodes' HTTP addresses, comma-separated (env SOP_ENDPOINTS)")
	r.addFlags(cmd, "give up after this long when the nodes answer different seqs; 0: never (env SOP_TIMEOUT)")
	r.s.bind("endpoints", "SOP_ENDPOINTS")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts, err := r.options()
		if err != nil {
			return err
		}
		clients, urls, err := verifyClients(endpoints, opts, r)
		if err != nil {
			return err
		}
		ctx, cancel := r.call(cmd.Context())
		defer cancel()
		res, err := verify(ctx, clients, urls, r.domain)
		if err != nil {
			return r.explainVerify(err)
		}
		if err := printJSON(st.out, res); err != nil {
			return err
		}
		return verdict(res, r.timeout)
	}
	return cmd
}

// verifyClients makes a client of each endpoint.
func verifyClients(list string, opts client.Options, r *remote) ([]*client.Client, []string, error) {
	var clients []*client.Client
	var urls []string
	for u := range strings.SplitSeq(list, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		c, err := client.New(u, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", r.s.source("endpoints"), err)
		}
		clients, urls = append(clients, c), append(urls, u)
	}
	if len(clients) < 2 {
		return nil, nil, fmt.Errorf("%s: give at least two nodes to compare, comma-separated, e.g. --endpoints http://10.0.0.1:7070,http://10.0.0.2:7070", r.s.source("endpoints"))
	}
	return clients, urls, nil
}

// verify asks every node for its hash until all answer at one seq or ctx
// ends; then the result has no Seq. A node that is unavailable (503) is
// asked again; any other failure ends it.
func verify(ctx context.Context, clients []*client.Client, urls []string, domain string) (verifyResult, error) {
	var last []verifyNode
	for {
		nodes, err := hashes(ctx, clients, urls, domain)
		switch {
		case err == nil:
			last = nodes
			if seq, ok := commonSeq(nodes); ok {
				return verifyResult{Seq: &seq, Equal: sameHash(nodes), Nodes: nodes}, nil
			}
		case ctx.Err() != nil && last != nil:
		case !errors.Is(err, client.ErrUnavailable) || ctx.Err() != nil:
			return verifyResult{}, err
		}
		select {
		case <-ctx.Done():
			return verifyResult{Nodes: last}, nil
		case <-time.After(verifyPoll):
		}
	}
}

// hashes asks all nodes at once.
func hashes(ctx context.Context, clients []*client.Client, urls []string, domain string) ([]verifyNode, error) {
	nodes := make([]verifyNode, len(clients))
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			seq, sum, err := c.Hash(ctx, domain)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", urls[i], err)
				return
			}
			nodes[i] = verifyNode{Endpoint: urls[i], Seq: seq, Hash: hex.EncodeToString(sum)}
		})
	}
	wg.Wait()
	return nodes, errors.Join(errs...)
}

func commonSeq(nodes []verifyNode) (uint64, bool) {
	for _, n := range nodes[1:] {
		if n.Seq != nodes[0].Seq {
			return 0, false
		}
	}
	return nodes[0].Seq, true
}

func sameHash(nodes []verifyNode) bool {
	for _, n := range nodes[1:] {
		if n.Hash != nodes[0].Hash {
			return false
		}
	}
	return true
}

// verdict is the command's error when the nodes do not agree.
func verdict(res verifyResult, timeout time.Duration) error {
	if res.Seq == nil {
		var at []string
		for _, n := range res.Nodes {
			at = append(at, fmt.Sprintf("%s at %d", n.Endpoint, n.Seq))
		}
		return fmt.Errorf("no common seq within --timeout %s: the nodes answered %s. Writes kept them apart, or a node does not follow the journal: run verify when writes pause, or give a longer --timeout",
			timeout, strings.Join(at, ", "))
	}
	if res.Equal {
		return nil
	}
	byHash := map[string][]string{}
	var order []string
	for _, n := range res.Nodes {
		if _, ok := byHash[n.Hash]; !ok {
			order = append(order, n.Hash)
		}
		byHash[n.Hash] = append(byHash[n.Hash], n.Endpoint)
	}
	slices.SortStableFunc(order, func(a, b string) int { return len(byHash[b]) - len(byHash[a]) })
	var groups []string
	for _, h := range order {
		groups = append(groups, fmt.Sprintf("%s: %s", h[:min(16, len(h))], strings.Join(byHash[h], ", ")))
	}
	return fmt.Errorf("the state hashes differ at seq %d: %s", *res.Seq, strings.Join(groups, "; "))
}

// explainVerify adds what to do to a failed call.
func (r *remote) explainVerify(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: a node did not answer within --timeout %s", err, r.timeout)
	}
	if errors.Is(err, client.ErrUnauthorized) && r.token == "" && r.tokenFile == "" {
		return fmt.Errorf("%w (give a token with --token, --token-file or SOP_TOKEN)", err)
	}
	if strings.Contains(err.Error(), "connection refused") {
		return fmt.Errorf("%w: is sopd serve running at each of --endpoints?", err)
	}
	return err
}
