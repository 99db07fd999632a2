package sop

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sopd/sop/journal"
	"github.com/sopd/sop/lock"
)

// loop is one run of a domain's leader loop (run) or follower loop
// (follow). A leader loop has its own request queue, so requests sent to
// a loop that stopped are never committed by a later one.
type loop struct {
	leader bool
	reqs   chan *commitReq // leader loops only
	stop   chan struct{}   // closed to stop the loop
	done   chan struct{}   // closed by the loop when it has stopped
}

// start starts a leader or follower loop and makes it the current one.
func (d *domain) start(leader bool) *loop {
	l := &loop{leader: leader, stop: make(chan struct{}), done: make(chan struct{})}
	if leader {
		l.reqs = make(chan *commitReq, 4*d.db.opts.MaxGroup)
		d.hist = newHistory(d.last, d.db.opts.ConflictHistory)
		d.cur.Store(l)
		go d.run(l)
	} else {
		d.cur.Store(l)
		go d.follow(l)
	}
	return l
}

// halt stops l and waits until it has: every request it had not taken
// fails (ErrNotLeader, or ErrClosed when the domain closes).
func (d *domain) halt(l *loop) {
	if !l.leader {
		d.cur.Store(&loop{stop: l.stop, done: l.done}) // writes fail at once
	}
	close(l.stop)
	<-l.done
}

// manage runs the domain's loops, from first (started by openDomain, so
// that a DB that Open returned takes writes at once) until the domain
// closes: a leader loop on a standalone node, a follower loop with
// Options.Follower, and with Options.Leases whichever the domain's lease
// says (see lead).
func (d *domain) manage(first *loop) {
	defer close(d.manageDone)
	if d.db.opts.Leases != nil {
		d.lead(first)
		return
	}
	<-d.stop
	d.halt(first)
}

// leaseName is the name of domain d's lease: with the incarnation of its
// journal stream in it (the same on every node), so a domain deleted and
// created again never meets an old lease.
func (d *domain) leaseName() string {
	return lock.Name(d.db.opts.ClusterName, d.name, d.streamIncarnation)
}

// lead follows the journal while another node holds the domain's lease,
// and tries to take it every third of its TTL. On taking it, it stops
// following, catches up with the journal to its end (the fence makes sure
// nothing is missed: an append on a stale position fails), and leads,
// renewing the lease every third of its TTL. When a renewal fails and the
// lease may have expired, it stops leading at once (queued commits fail
// with ErrNotLeader) and follows again. Safety never rests on the lease:
// a leader that lost it without knowing appends on a position another
// leader moved past, and the journal's expected-last-seq fence refuses it.
func (d *domain) lead(cur *loop) {
	opts := d.db.opts
	every := opts.LeaseTTL / 3
	name := d.leaseName()
	defer func() {
		if cur != nil {
			d.halt(cur)
		}
	}()
	// A node that just failed its storage over gave its leases up so that
	// another node leads: it waits a lease time before competing again.
	if wait := time.Until(time.Unix(0, d.db.competeAfter.Load())); wait > 0 {
		select {
		case <-d.stop:
			return
		case <-time.After(wait):
		}
	}
	for {
		if cur == nil {
			cur = d.start(false)
		}
		var lease lock.Lease
		for {
			ctx, cancel := context.WithTimeout(context.Background(), every)
			l, err := opts.Leases.Acquire(ctx, name, opts.LeaseTTL)
			cancel()
			if err == nil {
				lease = l
				break
			}
			if !errors.Is(err, lock.ErrHeld) {
				d.log.Warn("cannot reach the lease store; following meanwhile", "lease", name, "err", err)
			}
			select {
			case <-d.stop:
				return
			case <-time.After(every):
			}
		}
		d.halt(cur)
		cur = nil
		d.log.Info("took the domain's lease: catching up with the journal, then leading", "lease", name, "token", lease.Token, "applied", d.last)
		if err := d.takeOver(lease); err != nil {
			d.log.Error("catching up before leading failed; giving the lease back", "err", err)
			d.release(lease)
			continue
		}
		cur = d.start(true)
		unserve, err := d.serveCommits()
		if err != nil {
			d.log.Warn("cannot take forwarded commits; followers' writes fail meanwhile", "err", err)
			unserve = func() {}
		}
		lost := d.keep(lease)
		unserve()
		d.halt(cur)
		cur = nil
		if !lost {
			return // closing
		}
		d.log.Warn("lost the domain's lease: following again", "lease", name)
		cur = d.start(false)
		// Give the node that took it the time to lead before competing.
		select {
		case <-d.stop:
			return
		case <-time.After(opts.LeaseTTL):
		}
	}
}

// takeOver catches up with the journal and appends the leader entry: an
// entry without ops whose tx id names this node and its lease token (see
// leaderTxID), fenced on the journal's end like any group. From then on no
// group a former leader staged on an older state can land: each is fenced
// on a seq the leader entry moved past. A former leader's group that lands
// before it is read back here, so this node starts from the journal's end.
func (d *domain) takeOver(lease lock.Lease) error {
	for attempt := 0; ; attempt++ {
		if err := d.catchUp(nil); err != nil {
			return err
		}
		e := journal.Entry{TxID: leaderTxID(d.db.node, lease.Token), Domain: d.name, Node: d.db.node, Time: time.Now().UnixNano()}
		data, err := e.MarshalBinary()
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), appendTimeout)
		_, err = d.journal.Append(ctx, journal.Seq(d.last), []journal.Msg{{ID: e.TxID, Data: data}})
		cancel()
		var dup *journal.DuplicateError
		switch {
		case err == nil || errors.As(err, &dup):
			// What came before the leader entry was others' to append; from
			// it on, another node's entry means another node leads.
			d.deposed = false
			select {
			case <-d.depose:
			default:
			}
			return d.catchUp(nil) // applies the leader entry
		case attempt < 5 && (errors.Is(err, journal.ErrFenced) || errors.Is(err, journal.ErrUnavailable)):
			d.log.Info("the leader entry's append failed; catching up and trying again", "err", err)
		default:
			return fmt.Errorf("append the leader entry: %w", err)
		}
	}
}

// leaderTxID is the tx id of the leader entry a node appends on taking a
// domain's lease with token.
func leaderTxID(node string, token uint64) string {
	return fmt.Sprintf("lead/%s/%d", node, token)
}

// keep renews lease until the domain closes (false: it releases the
// lease) or a renewal fails past the point where the lease may have
// expired (true). It also renews when the leader loop asks (confirmLease)
// and answers whether the lease is still held.
func (d *domain) keep(lease lock.Lease) (lost bool) {
	opts := d.db.opts
	every := opts.LeaseTTL / 3
	d.setLeaseSafe(lease)
	defer d.leaseSafe.Store(0)
	for {
		var asked chan bool
		select {
		case <-d.stop:
			d.release(lease)
			return false
		case <-time.After(every):
		case asked = <-d.leaseCheck:
		case <-d.depose:
			d.log.Warn("another node appended after this node's leader entry: it leads now; following")
			return true
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		l, err := opts.Leases.Renew(ctx, lease, opts.LeaseTTL)
		cancel()
		if asked != nil {
			asked <- err == nil
		}
		switch {
		case err == nil:
			lease = l
			d.setLeaseSafe(lease)
		case errors.Is(err, lock.ErrLost):
			return true
		case !time.Now().Before(lease.Expires.Add(-every)):
			d.log.Warn("cannot renew the domain's lease before it expires", "err", err)
			return true
		default:
			d.log.Warn("renewing the domain's lease failed; retrying", "err", err)
		}
	}
}

// setLeaseSafe lets the leader append until a third of the lease's time
// before it expires: a leader that was paused or cut off past that point
// renews first (mayAppend).
func (d *domain) setLeaseSafe(lease lock.Lease) {
	d.leaseSafe.Store(lease.Expires.Add(-d.db.opts.LeaseTTL / 3).UnixNano())
}

func (d *domain) release(lease lock.Lease) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := d.db.opts.Leases.Release(ctx, lease); err != nil && !errors.Is(err, lock.ErrLost) {
		d.log.Warn("releasing the domain's lease failed; it expires by itself", "err", err)
	}
}

// mayAppend reports whether the leader loop may append now: always on a
// standalone node; in cluster mode while the lease is safely held (see
// setLeaseSafe), else after the lease keeper renewed it (confirmLease).
// Safety does not rest on this check (the journal's fence and the leader
// entry do that); it keeps a leader that was paused past its lease from
// appending at all before it learns it lost the lease.
func (d *domain) mayAppend() bool {
	if d.db.opts.Leases == nil || time.Now().UnixNano() < d.leaseSafe.Load() {
		return true
	}
	return d.confirmLease()
}

// confirmLease asks the lease keeper to renew the lease now and reports
// whether it did. It is false when the lease is lost, the renewal failed or
// the loop is stopping. Called from the leader loop only.
func (d *domain) confirmLease() bool {
	if d.db.opts.Leases == nil {
		return true
	}
	l := d.cur.Load()
	answer := make(chan bool, 1)
	select {
	case d.leaseCheck <- answer:
	case <-l.stop:
		return false
	}
	select {
	case ok := <-answer:
		return ok
	case <-l.stop:
		return false
	}
}
