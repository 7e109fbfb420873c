package chatcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The node's membership: the writer of its own keys and heartbeat, the
// watch that keeps its view of the others, the cleanup of dead nodes'
// keys (see the package doc for the key layout).

// reincarnate moves the node's entries to a new incarnation and returns
// it; the writer retires the old one.
func (n *Node) reincarnate() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.retired = append(n.retired, n.inc)
	n.inc = newID()
	n.ownIncs.Store(n.inc, true)
	for k := range n.desired {
		n.dirty[k] = struct{}{}
	}
	n.beat = true
	n.gen++
	n.poke()
	return n.inc
}

// writeLoop writes the node's heartbeat every Config.Heartbeat and its
// changed entries as soon as they change. One writer, reading each
// entry's latest count when it writes it, keeps the bucket in the order of
// the changes however the sessions race.
func (n *Node) writeLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.wake:
		case <-t.C:
			n.mu.Lock()
			n.beat = true
			n.mu.Unlock()
			n.cleanup()
		}
		n.flush()
	}
}

func (n *Node) flush() {
	n.mu.Lock()
	inc, gen, beat, retired := n.inc, n.gen, n.beat, n.retired
	keys := n.dirty
	n.beat, n.retired, n.dirty = false, nil, make(map[string]struct{})
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.OpTimeout)
	defer cancel()
	var failed []string
	var failedRetired []string
	if n.nc.IsConnected() {
		// An old incarnation's heartbeat goes first: the others stop
		// counting it before the new one appears, so nobody counts a
		// session twice.
		for _, old := range retired {
			if err := n.purge(ctx, heartbeatKey(old)); err != nil {
				failedRetired = append(failedRetired, old)
			}
		}
		if beat {
			if err := n.putBeat(ctx, inc); err != nil {
				n.log.Debug("heartbeat failed", "err", err)
			} else {
				beat = false
			}
		}
		for k := range keys {
			n.mu.Lock()
			v, cur := n.desired[k], n.inc
			n.mu.Unlock()
			if cur != inc {
				break // a new incarnation rewrites everything
			}
			var err error
			if v > 0 {
				_, err = n.kv.Put(ctx, withInc(inc, k), []byte(strconv.FormatInt(v, 10)))
			} else {
				err = n.purge(ctx, withInc(inc, k))
			}
			if err != nil {
				failed = append(failed, k)
			}
		}
	} else {
		failedRetired = retired
		for k := range keys {
			failed = append(failed, k)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.beat = n.beat || beat
	n.retired = append(n.retired, failedRetired...)
	for _, k := range failed {
		n.dirty[k] = struct{}{}
	}
	if len(failed) == 0 && n.inc == inc && gen > n.flushed {
		n.flushed = gen
		close(n.flushedC)
		n.flushedC = make(chan struct{})
	}
	if len(failed) > 0 && n.ctx.Err() == nil {
		n.log.Debug("membership writes failed; retrying at the next heartbeat", "keys", len(failed))
	}
}

// putBeat writes the incarnation's heartbeat with the TTL: the KV API
// has no TTL on Put in this nats.go, so it is a JetStream publish on the
// key's subject, which is what Put does.
func (n *Node) putBeat(ctx context.Context, inc string) error {
	m := &nats.Msg{Subject: "$KV." + n.bucket + "." + heartbeatKey(inc), Data: []byte(n.id)}
	_, err := n.js.PublishMsg(ctx, m, jetstream.WithMsgTTL(n.cfg.DeadAfter))
	return err
}

// purge removes a key; its marker expires after DeadAfter, so removed
// keys do not pile up in the bucket.
func (n *Node) purge(ctx context.Context, key string) error {
	return n.kv.Purge(ctx, key, jetstream.PurgeTTL(n.cfg.DeadAfter))
}

// cleanup purges the entries of dead incarnations. Only the live
// incarnation with the smallest id does it, so that a dead node's keys
// are purged once, not once per node.
func (n *Node) cleanup() {
	n.mu.Lock()
	inc := n.inc
	n.mu.Unlock()
	n.view.mu.RLock()
	leader := n.view.ready
	for id, is := range n.view.st.incs {
		if is.alive && id < inc {
			leader = false
		}
	}
	var dead map[string][]string
	if leader {
		dead = n.view.st.deadWithKeys()
	}
	n.view.mu.RUnlock()
	if len(dead) == 0 || !n.nc.IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.OpTimeout)
	defer cancel()
	for id, keys := range dead {
		for _, k := range keys {
			if err := n.purge(ctx, k); err != nil {
				n.log.Debug("purging a dead node's entry failed", "err", err)
				return
			}
		}
		n.log.Info("purged the entries of a dead node", "incarnation", id, "entries", len(keys))
	}
}

// watchLoop keeps the membership view: one watch of the bucket at a time,
// restarted after a reconnect or a failure. A new watch builds a fresh
// state from the bucket and swaps it in once complete, so the view never
// shows half a bucket.
func (n *Node) watchLoop() {
	defer n.wg.Done()
	rewatching(n.ctx, n.rewatch, n.log, "membership", n.watchOnce)
}

// rewatching runs watch until ctx ends: again after it fails, and anew
// (the running one cancelled) when rewatch fires, since an outage can
// break the consumer behind a watch without telling it.
func rewatching(ctx context.Context, rewatch <-chan struct{}, log *slog.Logger, what string, watch func(context.Context) error) {
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- watch(wctx) }()
		var err error
		select {
		case err = <-done:
		case <-rewatch:
			cancel()
			err = fmt.Errorf("restarting after a reconnect: %w", <-done)
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		log.Debug("watch ended", "watch", what, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (n *Node) watchOnce(ctx context.Context) error {
	st, err := n.kv.Status(ctx)
	if err != nil {
		return err
	}
	start := st.(*jetstream.KeyValueBucketStatus).StreamInfo().State.LastSeq
	w, err := n.kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	n.view.mu.RLock()
	fresh := newViewState(n.view.st.dead, n.isOwn)
	n.view.mu.RUnlock()
	var rev uint64
	building := true
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok = <-w.Updates():
		}
		if !ok {
			return errors.New("watch closed")
		}
		if e == nil { // the initial values are in
			n.mu.Lock()
			cur := n.inc
			n.mu.Unlock()
			for id, is := range fresh.incs {
				// Entries with no heartbeat are a dead node's; the current
				// incarnation is never alive in this view (see isOwn) and
				// is not dead.
				if !is.alive && id != cur {
					fresh.kill(id)
				}
			}
			n.view.mu.Lock()
			n.view.st, n.view.rev, n.view.ready = fresh, max(rev, start), true
			n.view.notifyLocked()
			n.view.mu.Unlock()
			building = false
			n.checkOwnBeat()
			continue
		}
		if building {
			applyEntry(fresh, e)
			rev = max(rev, e.Revision())
			continue
		}
		k, isKey := parseKey(e.Key())
		n.view.mu.Lock()
		var wasAlive, alive bool
		if is := n.view.st.incs[k.inc]; is != nil {
			wasAlive = is.alive
		}
		applyEntry(n.view.st, e)
		if is := n.view.st.incs[k.inc]; is != nil {
			alive = is.alive
		}
		n.view.rev = max(n.view.rev, e.Revision())
		n.view.notifyLocked()
		n.view.mu.Unlock()
		if !isKey || k.kind != "n" {
			continue
		}
		switch {
		case alive && !wasAlive:
			n.log.Info("a chat node joined the cluster", "incarnation", k.inc)
		case wasAlive && !alive:
			n.log.Info("a chat node left the cluster: its heartbeat expired, or it closed or reconnected", "incarnation", k.inc)
		}
		if e.Operation() != jetstream.KeyValuePut {
			n.checkOwnBeat()
		}
	}
}

// checkOwnBeat takes a new incarnation when the view holds the current
// one dead: its heartbeat expired (the node was cut off, or too slow to
// refresh it), and the others have stopped counting it for good.
func (n *Node) checkOwnBeat() {
	n.mu.Lock()
	inc := n.inc
	n.mu.Unlock()
	n.view.mu.RLock()
	dead := n.view.st.dead[inc]
	n.view.mu.RUnlock()
	if dead {
		newInc := n.reincarnate()
		n.log.Warn("this node's heartbeat expired: re-announcing its membership", "incarnation", newInc)
	}
}

// applyEntry applies one bucket entry to a view state.
func applyEntry(st *viewState, e jetstream.KeyValueEntry) {
	k, ok := parseKey(e.Key())
	if !ok {
		return
	}
	put := e.Operation() == jetstream.KeyValuePut
	var v int64
	if put {
		var err error
		if v, err = strconv.ParseInt(string(e.Value()), 10, 64); err != nil || v < 0 {
			v = 0
		}
	}
	switch k.kind {
	case "n":
		if put {
			st.beat(k.inc)
		} else {
			st.kill(k.inc)
			st.forget(k.inc)
		}
	case "u":
		st.setUser(k.inc, k.user, v)
		st.forget(k.inc)
	case "c":
		st.setMember(k.inc, k.channel, k.user, v)
		st.forget(k.inc)
	}
}
