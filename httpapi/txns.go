package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/sopd/sop"
)

// maxTxns is the most transactions one POST .../txns carries.
const maxTxns = 1000

// txnsBody is the body of POST /v1/domains/{d}/txns: independent
// transactions, each a txn body, decoded one by one (when the body does
// not decode at once) so that a bad one fails alone.
type txnsBody struct {
	Txns []json.RawMessage `json:"txns"`
}

// txnsResult is one transaction's answer in a batch: a txn's answer, or
// the error answer it would have had alone with its HTTP status.
type txnsResult struct {
	txnAnswer
	Status  int    `json:"status,omitempty"`
	Error   string `json:"error,omitempty"`
	Message string `json:"message,omitempty"`
}

// txns answers POST /v1/domains/{d}/txns: each transaction of the body
// commits (or fails) on its own, exactly as if it were POSTed alone to
// .../txn, and the answer lists their results in the body's order. They
// are submitted together, so they usually share one group commit, but
// nothing makes them atomic together. The request fails as a whole only
// when the body is not a list of 1 to maxTxns JSON values or the domain
// does not exist; a transaction that is not a txn body fails alone.
func (s *Server) txns(w http.ResponseWriter, r *http.Request) error {
	domain := r.PathValue("d")
	if r.Header.Get("Idempotency-Key") != "" {
		return reject(sop.ErrBadTxn, "an Idempotency-Key header names one write: give each transaction of a batch its own txid instead")
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	raw, err := readBody(w, r, s.opts.MaxBodySize)
	if err != nil {
		return err
	}
	tbs, errs, err := decodeTxns(raw)
	if err != nil {
		return err
	}
	specs, err := s.specs(domain) // once for all: it lists the domain's stores
	if err != nil {
		return err
	}
	results := make([]txnsResult, len(tbs))
	var wg sync.WaitGroup
	for i, tb := range tbs {
		err := errs[i]
		var req sop.TxnRequest
		if err == nil {
			req, err = s.txnRequest(r, specs, tb)
		}
		if err != nil {
			results[i] = s.txnsError(r, i, err)
			continue
		}
		wg.Go(func() {
			ans, err := answerTxn(s.commitTxn(r.Context(), domain, req))
			if err != nil {
				results[i] = s.txnsError(r, i, err)
				return
			}
			results[i] = txnsResult{txnAnswer: ans}
		})
	}
	wg.Wait()
	writeJSON(w, http.StatusOK, struct {
		Results []txnsResult `json:"results"`
	}{results})
	return nil
}

// decodeTxns decodes a txns body: each transaction's txn body, or the
// error that transaction alone fails with (errs[i]). It fails as a whole
// when the body is not {"txns": [...]} with 1 to maxTxns values. Bodies
// that decode at once (the usual case) are read once; the others again,
// transaction by transaction, to say which one is wrong and why.
func decodeTxns(body []byte) (tbs []txnBody, errs []error, err error) {
	var all struct {
		Txns []txnBody `json:"txns"`
	}
	if decodeJSON(body, &all) == nil {
		if err := checkTxnCount(len(all.Txns)); err != nil {
			return nil, nil, err
		}
		return all.Txns, make([]error, len(all.Txns)), nil
	}
	var each txnsBody
	if err := decodeJSON(body, &each); err != nil {
		return nil, nil, err
	}
	if err := checkTxnCount(len(each.Txns)); err != nil {
		return nil, nil, err
	}
	tbs, errs = make([]txnBody, len(each.Txns)), make([]error, len(each.Txns))
	for i, raw := range each.Txns {
		errs[i] = decodeJSON(raw, &tbs[i])
	}
	return tbs, errs, nil
}

func checkTxnCount(n int) error {
	if n == 0 || n > maxTxns {
		return reject(sop.ErrBadTxn, "%d transactions: send 1 to %d in \"txns\"", n, maxTxns)
	}
	return nil
}

// txnsError is the result of transaction i that failed with err: the
// status, code and message a txn alone would have answered.
func (s *Server) txnsError(r *http.Request, i int, err error) txnsResult {
	a := answerFor(err)
	if a == internal {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "txn", i, "err", err)
	}
	return txnsResult{Status: a.status, Error: a.code, Message: fmt.Sprintf("txns[%d]: %s", i, messageFor(err, a))}
}
