package sop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/sopd/sop/btree"
	"github.com/sopd/sop/journal"
	"github.com/sopd/sop/projector"
)

// appendTimeout bounds one group's journal append.
const appendTimeout = 10 * time.Second

// commitReq asks the domain's leader loop to commit one transaction.
type commitReq struct {
	ctx         context.Context
	txID        string
	readVersion uint64
	reads       *readSet       // interactive transactions: checked for conflicts
	ops         []journal.Op   // the writes (Txn: the success branch)
	compare     []journal.Cond // Txn: the conditions that choose the branch
	failure     []journal.Op   // Txn: the writes when a condition fails
	ensure      bool           // ops is one create-store, and an equal existing store is success
	forwarded   bool           // sent by another node (serveCommits), which retries it itself
	done        chan commitResult
	staged      commitResult // set when the leader accepted it into a group; seq still unset
	answered    bool         // finish was called; owned by the leader loop
}

// commitResult is the leader's answer.
type commitResult struct {
	seq       uint64 // the entry's seq; 0 when nothing was appended
	succeeded bool   // Txn: the conditions held; create-store: the store is new
	err       error
}

// finish answers the request; only the first answer counts, so a path
// that fails a whole group need not know which requests stage already
// answered. Called from the leader loop only.
func (r *commitReq) finish(res commitResult) {
	if r.answered {
		return
	}
	r.answered = true
	r.done <- res
}

// submit commits req through this node's leader loop or, in cluster mode
// on a node that does not lead, through the leader's (forward). In cluster
// mode a request that met no leader (ErrNotLeader, which always means it
// was not committed) tries again until a leader takes it, for up to
// leaderWait lease times or until ctx ends: writes sent during a failover
// wait for the new leader instead of failing. A forwarded request does not:
// the node that forwarded it tries again itself.
func (d *domain) submit(ctx context.Context, req *commitReq) commitResult {
	res := d.submitOnce(ctx, req)
	if d.db.opts.Leases == nil || req.forwarded {
		return res
	}
	deadline := time.Now().Add(leaderWait * d.db.opts.LeaseTTL)
	for attempt := 0; errors.Is(res.err, ErrNotLeader) && time.Now().Before(deadline); attempt++ {
		if sleep(ctx, 10*time.Millisecond+backoff(attempt)) != nil {
			return res
		}
		res = d.submitOnce(ctx, req)
	}
	return res
}

// leaderWait is how many lease times a write waits for a leader in
// cluster mode: one for the old leader's lease to expire, one for another
// node to take it and catch up, and one to spare.
const leaderWait = 3

// submitOnce hands req to the leader loop, or forwards it, and waits for
// the answer.
func (d *domain) submitOnce(ctx context.Context, req *commitReq) commitResult {
	if err := d.failure(); err != nil {
		return commitResult{err: err}
	}
	l := d.cur.Load()
	if l == nil || !l.leader {
		if d.db.opts.Leases != nil {
			return d.forward(ctx, req)
		}
		return commitResult{err: fmt.Errorf("%w: this node follows domain %s's journal; write through the leader", ErrNotLeader, d.name)}
	}
	req.ctx = ctx
	req.done = make(chan commitResult, 1)
	select {
	case l.reqs <- req:
	case <-ctx.Done():
		return commitResult{err: ctx.Err()}
	case <-l.stop:
		return commitResult{err: d.stopped()}
	}
	select {
	case res := <-req.done:
		return res
	case <-ctx.Done():
		return commitResult{err: fmt.Errorf("%w: gave up waiting for the commit, whose outcome is unknown: %w", ErrUnavailable, ctx.Err())}
	case <-l.done:
		// Requests a stopped loop did not take are never committed: each
		// leader loop has its own queue.
		select {
		case res := <-req.done:
			return res
		default:
			return commitResult{err: d.stopped()}
		}
	}
}

// stopped is the error of a request whose leader loop stopped: ErrClosed
// when the domain closes, else ErrNotLeader (the lease was lost).
func (d *domain) stopped() error {
	select {
	case <-d.stop:
		return ErrClosed
	default:
		return fmt.Errorf("%w: this node stopped leading domain %s; write through the new leader", ErrNotLeader, d.name)
	}
}

// run is the leader loop: it takes every queued request (up to MaxGroup),
// commits them as one group, and repeats, until l stops. While a group is
// appended the next one queues, so groups grow with load; a group smaller
// than the last waits briefly for the rest (see gather).
func (d *domain) run(l *loop) {
	defer close(l.done)
	group := make([]*commitReq, 0, d.db.opts.MaxGroup)
	d.more = make([]*commitReq, 0, cap(group))
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	prev := 0 // the size of the last group
	for {
		select {
		case <-l.stop:
			d.drain(l)
			return
		case r := <-l.reqs:
			group = append(group[:0], r)
		}
		// The committers the last group answered are about to submit
		// again; letting them run first makes this group take them too,
		// instead of the queue splitting into two cohorts that alternate
		// (each then half the size, at the same fixed cost per append).
		runtime.Gosched()
		group = fill(group, l.reqs)
		// Those still busy get a little longer: a group no smaller than
		// the last one, or a quarter of the last append's time, whichever
		// comes first. An append's cost is mostly fixed, so the wait buys
		// more commits per append than it costs; a single committer never
		// waits (its group is as large as the last), and a load that
		// shrinks stops waiting after one group.
		want, wait := min(prev, cap(group)), min(d.lastAppend/lingerShare, maxLinger)
		if st, ok := d.journal.(journal.Stager); ok && streams(prev) && cap(group) <= st.StageLimit() {
			prev = d.commitStreamed(st, l, group, want, wait, linger)
		} else {
			gather(l.reqs, len(group), want, cap(group), wait, linger, l.stop, d.more, func(more []*commitReq) error {
				group = append(group, more...)
				return nil
			})
			prev = len(group)
			d.commitGroup(group, true)
		}
		clear(group)
	}
}

// streams reports whether the leader streams the next group to a staging
// journal (commitStreamed), given the last group's size: when a group is
// expected. A lone committer's group goes the plain way, which appends one
// entry without a batch's fixed cost; so does every group when MaxGroup is
// above what one staged group takes (Append splits larger groups). Tests
// replace it.
var streams = func(prev int) bool { return prev > 1 }

// lingerShare and maxLinger bound how long the leader loop waits for a
// group to fill: a share of the last append's time, and at most this.
const (
	lingerShare = 4
	maxLinger   = 2 * time.Millisecond
)

// gather takes more requests from reqs for a group that holds have: it
// waits until the group holds want, wait has passed (on timer t, stopped
// after), or stop is closed; then it takes what is queued, up to limit in
// all (stop: nothing more). It hands each arrival, with whatever is queued
// behind it, to take, through buf (whose capacity is at least limit), and
// stops at take's first error, which it returns.
func gather(reqs <-chan *commitReq, have, want, limit int, wait time.Duration, t *time.Timer, stop <-chan struct{}, buf []*commitReq, take func([]*commitReq) error) error {
	n := have
	give := func(more []*commitReq) error {
		if len(more) == 0 {
			return nil
		}
		n += len(more)
		err := take(more)
		clear(more)
		return err
	}
	if n < want && wait > 0 {
		t.Reset(wait) // Go 1.23 timers: no stale tick survives Stop or Reset
		defer t.Stop()
	waiting:
		for n < want {
			select {
			case r := <-reqs:
				if err := give(fill(append(buf[:0:limit-n], r), reqs)); err != nil {
					return err
				}
			case <-t.C:
				break waiting
			case <-stop:
				return nil
			}
		}
	}
	if n >= limit {
		return nil
	}
	return give(fill(buf[:0:limit-n], reqs))
}

// fill appends to s what c holds now, up to s's capacity, without
// waiting.
func fill[T any](s []T, c <-chan T) []T {
	for len(s) < cap(s) {
		select {
		case v := <-c:
			s = append(s, v)
		default:
			return s
		}
	}
	return s
}

// drain fails every request queued for l.
func (d *domain) drain(l *loop) {
	err := d.stopped()
	for {
		select {
		case r := <-l.reqs:
			r.finish(commitResult{err: err})
		default:
			return
		}
	}
}

func failAll(reqs []*commitReq, err error) {
	for _, r := range reqs {
		r.finish(commitResult{err: err})
	}
}

// commitGroup validates each request against the state so far (applying
// it speculatively to an open batch), appends the accepted ones to the
// journal as one fenced group, then publishes the batch and answers. When
// the append fails the batch is dropped, the domain catches up from the
// journal, and (once, if retry) requests the journal was fenced on run
// again.
func (d *domain) commitGroup(reqs []*commitReq, retry bool) {
	g, ok := d.beginGroup(reqs)
	if !ok {
		return
	}
	if err := d.stage(g, reqs); err != nil {
		d.abortGroup(g, err)
		return
	}
	d.appendGroup(g, retry, func(ctx context.Context) (journal.Seq, error) {
		return d.journal.Append(ctx, journal.Seq(d.last), g.msgs)
	})
}

// commitStreamed is commitGroup for a journal that stages groups (see
// journal.Stager), with gather's wait: it stages reqs and sends their
// entries at once, then stages and sends each request gather takes as it
// comes, and commits the group. The server so stages the group while it
// forms, and the append left once it is complete is shorter. It returns
// how many requests the group took.
func (d *domain) commitStreamed(st journal.Stager, l *loop, reqs []*commitReq, want int, wait time.Duration, t *time.Timer) int {
	g, ok := d.beginGroup(reqs)
	if !ok {
		return len(reqs)
	}
	sg := st.Stage(journal.Seq(d.last))
	sent := 0
	push := func(rs []*commitReq) error {
		if err := d.stage(g, rs); err != nil {
			return err
		}
		// A failed Add ends the group: its Commit reports the error, and
		// appendGroup handles it as a failed append.
		_ = sg.Add(g.msgs[sent:]...)
		sent = len(g.msgs)
		return nil
	}
	err := push(reqs)
	if err == nil {
		// cap(reqs) is at most st.StageLimit(): see run.
		err = gather(l.reqs, len(g.reqs), want, cap(reqs), wait, t, l.stop, d.more, push)
	}
	if err != nil {
		sg.Abandon()
		d.abortGroup(g, err)
		return len(g.reqs)
	}
	if len(g.accepted) == 0 {
		sg.Abandon() // nothing was sent
	}
	d.appendGroup(g, true, sg.Commit)
	return len(g.reqs)
}

// staging is a group being staged: the batch its entries are applied to
// speculatively, the catalog before them, and each request's place.
type staging struct {
	b        *btree.Batch
	cat      *projector.Catalog
	reqs     []*commitReq  // every request of the group, in order
	accepted []*commitReq  // with an entry, in seq order, each with its staged result
	msgs     []journal.Msg // the accepted requests' entries
	deferred []*commitReq  // answered after the append (see stage)
	buf      []byte        // the entries' bytes
	next     uint64        // the seq of the next accepted entry
}

// beginGroup checks that the loop may append and opens the group's batch;
// when it may not, it fails reqs and returns false.
func (d *domain) beginGroup(reqs []*commitReq) (*staging, bool) {
	if err := d.failure(); err != nil {
		failAll(reqs, err)
		return nil, false
	}
	if !d.mayAppend() {
		failAll(reqs, fmt.Errorf("%w: this node's lease on domain %s ran out before it could renew it; write through the new leader", ErrNotLeader, d.name))
		return nil, false
	}
	if d.resync {
		if err := d.catchUp(nil); err != nil {
			failAll(reqs, err)
			return nil, false
		}
	}
	if d.deposed {
		d.stepDown()
		failAll(reqs, d.deposedErr())
		return nil, false
	}
	b, err := d.forest.Begin()
	if err != nil {
		failAll(reqs, d.fail(err))
		return nil, false
	}
	return &staging{b: b, cat: d.proj.Catalog(), buf: d.scratch[:0], next: d.last + 1}, true
}

// abortGroup drops a group that cannot go on (err: one the domain cannot
// go on from) and fails its requests.
func (d *domain) abortGroup(g *staging, err error) {
	d.dropGroup(g)
	failAll(g.reqs, err)
}

// dropGroup undoes what staging g did: its batch, events, catalog changes
// and history entries.
func (d *domain) dropGroup(g *staging) {
	g.b.Abort()
	d.dropEvents()
	d.proj.Reset(g.cat)
	d.hist.truncate(d.last)
}

// appendGroup appends a staged group with appendFn and, when it lands,
// publishes its batch and answers its requests; when it fails, it drops
// the batch and recovers (see recover).
func (d *domain) appendGroup(g *staging, retry bool, appendFn func(context.Context) (journal.Seq, error)) {
	defer func() { d.scratch = g.buf[:0] }()
	if len(g.accepted) == 0 {
		g.b.Abort()
		d.dropEvents()
		finishStaged(g.deferred) // read the committed state only
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), appendTimeout)
	began := time.Now()
	first, err := appendFn(ctx)
	d.lastAppend = time.Since(began)
	cancel()
	if err != nil {
		d.dropGroup(g)
		d.recover(err, g.accepted, g.deferred, retry)
		return
	}
	d.last += uint64(len(g.accepted))
	d.commits.Add(uint64(len(g.accepted)))
	d.groups.Add(1)
	d.publish(g.b, len(g.accepted))
	for i, r := range g.accepted {
		d.ids.add(r.txID, uint64(first)+uint64(i))
		res := r.staged
		res.seq = uint64(first) + uint64(i)
		r.finish(res)
	}
	finishStaged(g.deferred)
}

// finishStaged answers requests with the results staging gave them.
func finishStaged(reqs []*commitReq) {
	for _, r := range reqs {
		r.finish(r.staged)
	}
}

// stage prepares and speculatively applies each of reqs to the group's
// batch, after what it staged before. It adds the accepted requests (each
// with its staged result) and their messages, and the deferred ones:
// requests that need no entry or are rejected, with their results in
// staged. Those results were read from the state the group's earlier
// entries staged (a failed condition, a store already there, a store a
// staged drop removed), so they hold only once the group is in the
// journal: they are answered after the append, and run again with the
// rest if it fails. Requests that are invalid whatever the state are
// answered at once. An error is one the domain cannot go on from: every
// request fails with it.
func (d *domain) stage(g *staging, reqs []*commitReq) error {
	g.reqs = append(g.reqs, reqs...)
	b := g.b
	for _, r := range reqs {
		e, res, ok, err := d.prepare(b, r)
		if err != nil {
			return err
		}
		if !ok {
			r.staged = res
			g.deferred = append(g.deferred, r)
			continue
		}
		start := len(g.buf)
		if g.buf, err = e.AppendBinary(g.buf); err != nil {
			r.finish(commitResult{err: fmt.Errorf("sop: invalid transaction: %w", err)})
			continue
		}
		if n := len(g.buf) - start; n > d.db.maxMsg {
			g.buf = g.buf[:start]
			r.finish(commitResult{err: fmt.Errorf("%w: the transaction's journal entry is %d bytes, the journal takes at most %d (NATS max_payload): split it", ErrTooLarge, n, d.db.maxMsg)})
			continue
		}
		evs := len(d.events)
		if err := d.proj.Apply(b, g.next, &e, d.collect); err != nil {
			if !errors.Is(err, projector.ErrRejected) {
				return d.fail(err)
			}
			d.events = d.events[:evs]
			g.buf = g.buf[:start]
			r.staged = commitResult{err: rejection(err)}
			g.deferred = append(g.deferred, r)
			continue
		}
		if ops, pruned := effective(e.Ops, d.events[evs:]); pruned {
			// The journal holds only changes, so that a watcher reading it
			// sees the events the projector gave.
			e.Ops = ops
			if g.buf, err = e.AppendBinary(g.buf[:start]); err != nil {
				return d.fail(err)
			}
		}
		d.hist.add(g.next, &e)
		g.accepted = append(g.accepted, r)
		g.msgs = append(g.msgs, journal.Msg{ID: e.TxID, Data: g.buf[start:len(g.buf):len(g.buf)]})
		r.staged = res
		g.next++
	}
	return nil
}

// prepare turns a request into the entry to append, on the state b holds.
// ok is false when the request is answered without an entry (res). err is
// an error the domain cannot go on from.
func (d *domain) prepare(b *btree.Batch, r *commitReq) (e journal.Entry, res commitResult, ok bool, err error) {
	if err := r.ctx.Err(); err != nil {
		return e, commitResult{err: err}, false, nil
	}
	if seq, ok := d.ids.lookup(r.txID); ok {
		return e, commitResult{seq: seq, err: fmt.Errorf("%w: %q at seq %d", ErrAlreadyCommitted, r.txID, seq)}, false, nil
	}
	if d.hist.conflicts(r.readVersion, r.reads) {
		return e, commitResult{err: fmt.Errorf("%w: something it read in domain %s was written after seq %d", ErrConflict, d.name, r.readVersion)}, false, nil
	}
	e = journal.Entry{TxID: r.txID, Domain: d.name, ReadVersion: r.readVersion, Node: d.db.node, Time: time.Now().UnixNano(), Ops: r.ops}
	res.succeeded = true
	if r.compare != nil {
		probe := journal.Entry{Conds: r.compare}
		switch err := d.proj.Check(b, &probe); {
		case err == nil:
			e.Conds = r.compare
		case errors.Is(err, projector.ErrRejected):
			e.Ops, res.succeeded = r.failure, false
		default:
			return e, res, false, d.fail(err)
		}
	}
	if r.ensure {
		op := r.ops[0]
		if s, exists := d.proj.Catalog().Store(op.Store); exists {
			if want := projector.Spec(op.Index); !slices.Equal(s.Index, want) {
				return e, commitResult{err: fmt.Errorf("%w: %q has index %v, not %v: drop it first or use another name", ErrStoreExists, op.Store, s.Index, want)}, false, nil
			}
			return e, commitResult{}, false, nil
		}
	}
	if len(e.Ops) == 0 {
		return e, res, false, nil
	}
	return e, res, true, nil
}

// effective returns ops without the deletes of items that did not exist,
// given evs, the events applying ops gave, and whether it dropped any. Each
// op gave at most one event, in order, and only such a delete none.
func effective(ops []journal.Op, evs []Event) ([]journal.Op, bool) {
	deletes := 0
	for i := range ops {
		if ops[i].Kind == journal.OpDelete {
			deletes++
		}
	}
	for i := range evs {
		if evs[i].Kind == EventDelete {
			deletes--
		}
	}
	if deletes == 0 {
		return ops, false
	}
	kept := make([]journal.Op, 0, len(ops)-deletes)
	j := 0
	for i := range ops {
		op := &ops[i]
		if op.Kind == journal.OpDelete && (j == len(evs) || evs[j].Kind != EventDelete || evs[j].Store != op.Store || !bytes.Equal(evs[j].Key, op.Key)) {
			continue
		}
		kept = append(kept, *op)
		j++
	}
	return kept, true
}

// rejection maps a projector rejection to sop's error.
func rejection(err error) error {
	switch {
	case errors.Is(err, projector.ErrStoreNotFound):
		return fmt.Errorf("%w: %w", ErrStoreNotFound, err)
	case errors.Is(err, projector.ErrStoreExists):
		return fmt.Errorf("%w: %w", ErrStoreExists, err)
	case errors.Is(err, projector.ErrBadKey):
		return fmt.Errorf("%w: %w", ErrBadIndex, err)
	}
	return fmt.Errorf("%w: %w", ErrConflict, err)
}

// recover handles a failed append of accepted (deferred: the group's
// requests answered without an entry, whose staged results may rest on
// entries that did not land). A duplicate id stored nothing: its request
// learns it was committed before and the rest run again. Any other failure
// may have stored some or all of the group, or another writer's entries:
// the domain catches up from the journal, answers the requests it finds
// there, and runs the others (deferred included) again once when fenced,
// else fails them.
func (d *domain) recover(err error, accepted, deferred []*commitReq, retry bool) {
	var dup *journal.DuplicateError
	if errors.As(err, &dup) {
		var rest []*commitReq
		for _, r := range accepted {
			if r.txID == dup.ID {
				r.finish(commitResult{seq: uint64(dup.Seq), err: fmt.Errorf("%w: %q", ErrAlreadyCommitted, dup.ID)})
			} else {
				rest = append(rest, r)
			}
		}
		rest = append(rest, deferred...) // their staged results may rest on what did not land
		if len(rest) > 0 {
			d.commitGroup(rest, retry)
		}
		return
	}
	d.resync = true
	pending := accepted
	var found []commitResult
	var foundReqs []*commitReq
	cerr := d.catchUp(func(rec journal.Record) {
		for i, r := range pending {
			if r.txID == rec.ID {
				res := r.staged
				res.seq = uint64(rec.Seq)
				found = append(found, res)
				foundReqs = append(foundReqs, r)
				pending = slices.Delete(pending, i, i+1)
				return
			}
		}
	})
	// Answer only now: catchUp has published what it applied.
	for i, r := range foundReqs {
		r.finish(found[i])
	}
	if errors.Is(err, journal.ErrTooLarge) && cerr == nil {
		failAll(pending, fmt.Errorf("%w: %w", ErrTooLarge, err))
		if len(deferred) > 0 {
			d.commitGroup(deferred, false)
		}
		return
	}
	// The deferred requests wrote nothing; their staged results may rest
	// on entries that did not land: they run again, or fail, with the rest.
	pending = append(pending, deferred...)
	if cerr == nil && d.deposed {
		d.stepDown()
		failAll(pending, d.deposedErr())
		return
	}
	if cerr != nil {
		failAll(pending, fmt.Errorf("%w: append failed (%v) and the journal could not be read back: the outcome is unknown", ErrUnavailable, err))
		return
	}
	switch {
	case len(pending) == 0:
	case errors.Is(err, journal.ErrFenced) && d.db.opts.Leases != nil:
		// In a cluster another writer means another leader: this node
		// must not append again before its lease says it still leads.
		if retry && d.confirmLease() {
			d.commitGroup(pending, false)
			return
		}
		failAll(pending, fmt.Errorf("%w: another node appended to domain %s's journal: it leads now", ErrNotLeader, d.name))
	case errors.Is(err, journal.ErrFenced) && retry:
		d.commitGroup(pending, false)
	case errors.Is(err, journal.ErrFenced):
		failAll(pending, fmt.Errorf("%w: another writer appended to domain %s's journal", ErrConflict, d.name))
	default:
		failAll(pending, fmt.Errorf("%w: %w", ErrUnavailable, err))
	}
}

// catchUp applies what the journal holds beyond d.last, recording each
// entry in the conflict history and showing each record to found. In
// cluster mode an entry of another node found while leading (after this
// node's leader entry) means another node leads now: catchUp sets
// deposed, and the leader loop appends nothing more (stepDown).
func (d *domain) catchUp(found func(journal.Record)) error {
	ctx, cancel := context.WithTimeout(context.Background(), appendTimeout)
	defer cancel()
	err := d.replay(ctx, func(rec journal.Record, e *journal.Entry) {
		if d.db.opts.Leases != nil && e.Node != d.db.node {
			d.deposed = true
		}
		d.hist.add(uint64(rec.Seq), e)
		if found != nil {
			found(rec)
		}
	})
	if err != nil {
		return err
	}
	d.resync = false
	return nil
}

// deposedErr is the error of requests a deposed leader did not commit.
func (d *domain) deposedErr() error {
	return fmt.Errorf("%w: another node leads domain %s now (its entries follow this node's leader entry)", ErrNotLeader, d.name)
}

// stepDown tells the lease keeper to stop leading: the leader loop found
// another node's entries after its own leader entry.
func (d *domain) stepDown() {
	select {
	case d.depose <- struct{}{}:
	default:
	}
}
