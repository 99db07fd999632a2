package httpapi

import (
	"bytes"
	"net/http"

	"github.com/sopd/sop"
)

// Scan pages: ?limit= defaults to defaultLimit and may not exceed
// maxLimit. A page also ends early once its items hold MaxBodySize bytes,
// so a page of large values stays a sane answer; next is set whenever
// items remain.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// scanPage is the answer of a scan.
type scanPage struct {
	Items []itemJSON `json:"items"`
	Next  *string    `json:"next"` // null at the end
}

// scan answers GET .../items: items ordered by key within
// prefix/start/end, limit at a time, reverse on demand, resumable with
// cursor. The page is read in one transaction.
func (s *Server) scan(w http.ResponseWriter, r *http.Request) error {
	domain, store := r.PathValue("d"), r.PathValue("s")
	p, err := queryParams(r, "prefix", "start", "end", "limit", "reverse", "cursor", "min_seq", "linearizable", "timeout")
	if err != nil {
		return err
	}
	limit, err := p.uint("limit", defaultLimit)
	if err != nil {
		return err
	}
	if limit == 0 || limit > maxLimit {
		return reject(errBadParam, "limit=%d: ask for 1 to %d items and page on with next", limit, maxLimit)
	}
	reverse, err := p.bool("reverse")
	if err != nil {
		return err
	}
	k, err := s.keyerFor(domain, store)
	if err != nil {
		return err
	}
	scope := scanScope{domain: domain, store: store}
	scope.prefix, _ = p.str("prefix")
	scope.start, _ = p.str("start")
	scope.end, _ = p.str("end")
	rng, err := scanRange(k, scope)
	if err != nil {
		return err
	}
	rng.Reverse = reverse
	if text, ok := p.str("cursor"); ok {
		if rng, err = resume(rng, text, scope); err != nil {
			return err
		}
	}
	if err := s.awaitApplied(r.Context(), domain, p); err != nil {
		return err
	}
	page, err := s.readPage(r, k, rng, int(limit))
	if err != nil {
		return err
	}
	if page.more {
		next := cursor{reverse: reverse, last: page.last}.encode(scope)
		page.Next = &next
	}
	writeJSON(w, http.StatusOK, page.scanPage)
	return nil
}

// scanRange is the key range of a scan's prefix, start and end: strings
// for a plain store, JSON arrays of leading field values for an index
// store. Empty parameters do not bound the range.
func scanRange(k keyer, scope scanScope) (sop.Range, error) {
	prefix, err := bound(k, scope.prefix, "prefix")
	if err != nil {
		return sop.Range{}, err
	}
	start, err := bound(k, scope.start, "start")
	if err != nil {
		return sop.Range{}, err
	}
	end, err := bound(k, scope.end, "end")
	if err != nil {
		return sop.Range{}, err
	}
	rng := sop.Range{Start: start, End: end}
	if prefix != nil {
		pr := sop.Prefix(prefix)
		rng.Start = maxStart(rng.Start, pr.Start)
		rng.End = minEnd(rng.End, pr.End)
	}
	return rng, nil
}

// bound parses one range parameter; nil when empty.
func bound(k keyer, text, name string) ([]byte, error) {
	if text == "" {
		return nil, nil
	}
	if !k.indexed() {
		return []byte(text), nil
	}
	b, err := k.prefix([]byte(text), name)
	if err != nil || len(b) == 0 {
		return nil, err
	}
	return b, nil
}

// resume narrows rng to what follows the cursor's last key.
func resume(rng sop.Range, text string, scope scanScope) (sop.Range, error) {
	c, err := decodeCursor(text, scope)
	if err != nil {
		return rng, reject(errBadCursor, "the cursor is garbled or was issued for another store, prefix, start or end: pass next back unchanged with the same parameters, or start over without cursor")
	}
	if c.reverse != rng.Reverse {
		return rng, reject(errBadCursor, "the cursor was issued for reverse=%t: keep reverse as it was, or start over without cursor", c.reverse)
	}
	if rng.Reverse {
		rng.End = minEnd(rng.End, c.last)
	} else {
		rng.Start = maxStart(rng.Start, append(bytes.Clone(c.last), 0))
	}
	return rng, nil
}

// maxStart is the later of two inclusive lower bounds (nil: none).
func maxStart(a, b []byte) []byte {
	if a == nil || (b != nil && bytes.Compare(b, a) > 0) {
		return b
	}
	return a
}

// minEnd is the earlier of two exclusive upper bounds (nil: none).
func minEnd(a, b []byte) []byte {
	if a == nil || (b != nil && bytes.Compare(b, a) < 0) {
		return b
	}
	return a
}

// pageResult is one page and where it stopped.
type pageResult struct {
	scanPage
	more bool   // items remain after the page
	last []byte // the page's last key
}

// readPage reads up to limit items of rng in one transaction, stopping
// early once they hold MaxBodySize bytes.
func (s *Server) readPage(r *http.Request, k keyer, rng sop.Range, limit int) (pageResult, error) {
	page := pageResult{scanPage: scanPage{Items: []itemJSON{}}}
	if rng.Start != nil && rng.End != nil && bytes.Compare(rng.Start, rng.End) >= 0 {
		return page, nil
	}
	budget := s.opts.MaxBodySize
	err := s.db.View(r.Context(), r.PathValue("d"), func(tx *sop.Tx) error {
		for it, err := range tx.Scan(k.store, rng) {
			if err != nil {
				return err
			}
			if len(page.Items) == limit || budget <= 0 {
				page.more = true
				return nil
			}
			page.Items = append(page.Items, newItemJSON(k, it))
			page.last = it.Key
			budget -= int64(len(it.Key) + len(it.Value))
		}
		return nil
	})
	return page, err
}
