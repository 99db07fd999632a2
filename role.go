package sop

import (
	"context"
	"errors"
	"time"

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
		if err := d.catchUp(nil); err != nil {
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

// keep renews lease until the domain closes (false: it releases the
// lease) or a renewal fails past the point where the lease may have
// expired (true).
func (d *domain) keep(lease lock.Lease) (lost bool) {
	opts := d.db.opts
	every := opts.LeaseTTL / 3
	for {
		select {
		case <-d.stop:
			d.release(lease)
			return false
		case <-time.After(every):
		case <-d.leaseCheck:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		l, err := opts.Leases.Renew(ctx, lease, opts.LeaseTTL)
		cancel()
		switch {
		case err == nil:
			lease = l
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

func (d *domain) release(lease lock.Lease) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := d.db.opts.Leases.Release(ctx, lease); err != nil && !errors.Is(err, lock.ErrLost) {
		d.log.Warn("releasing the domain's lease failed; it expires by itself", "err", err)
	}
}

// checkLease asks the lease keeper to renew now: the leader loop saw
// another node append, so the lease was probably lost.
func (d *domain) checkLease() {
	select {
	case d.leaseCheck <- struct{}{}:
	default:
	}
}
