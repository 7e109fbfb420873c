package chatcluster

import (
	"sync"

	"github.com/rsocket-chat/rsgen/impl/nameset"
)

// view is a node's picture of the cluster's membership, built from the
// KV bucket's watch: every incarnation's entries, and totals over the
// live ones (those whose heartbeat key is present). An incarnation whose
// heartbeat disappears (expired or purged) is dead for good: its entries
// stop counting at once and are never counted again, whatever arrives
// later, so a node that lost its heartbeat must come back under a new
// incarnation (Node does).
type view struct {
	mu sync.RWMutex
	st *viewState
	// rev is the highest bucket revision (stream sequence) applied, and
	// ready whether the watch's initial values are all in: Sync waits on
	// them.
	rev   uint64
	ready bool
	// changed is closed and replaced whenever rev or ready changes.
	changed chan struct{}
}

func newView(own func(inc string) bool) *view {
	return &view{st: newViewState(nil, own), changed: make(chan struct{})}
}

// viewState is the content of a view; a new watch builds a fresh one
// and swaps it in once its initial values are in.
type viewState struct {
	incs map[string]*incState
	dead map[string]bool
	// own, when set, names the incarnations never to count (a node's
	// own: it counts its sessions from its own state).
	own func(inc string) bool

	// Totals over the live incarnations.
	sessions  int64
	users     map[string]int64            // user -> sessions
	members   map[string]map[string]int64 // channel -> user -> sessions
	channels  *nameset.Set                // the keys of members
	chanUsers map[string]*nameset.Set     // channel -> the keys of members[channel]
}

// incState is what one incarnation wrote.
type incState struct {
	alive   bool
	users   map[string]int64
	members map[[2]string]int64 // {channel, user} -> sessions
}

func newViewState(dead map[string]bool, own func(string) bool) *viewState {
	st := &viewState{
		own:       own,
		incs:      make(map[string]*incState),
		dead:      make(map[string]bool),
		users:     make(map[string]int64),
		members:   make(map[string]map[string]int64),
		channels:  &nameset.Set{},
		chanUsers: make(map[string]*nameset.Set),
	}
	for inc := range dead {
		st.dead[inc] = true
	}
	return st
}

func (st *viewState) inc(id string) *incState {
	is := st.incs[id]
	if is == nil {
		is = &incState{users: make(map[string]int64), members: make(map[[2]string]int64)}
		st.incs[id] = is
	}
	return is
}

// setUser records an incarnation's session count for user.
func (st *viewState) setUser(inc, user string, n int64) {
	is := st.inc(inc)
	old := is.users[user]
	if n == 0 {
		delete(is.users, user)
	} else {
		is.users[user] = n
	}
	if is.alive {
		st.addUser(user, n-old)
	}
}

// setMember records an incarnation's member count for (channel, user).
func (st *viewState) setMember(inc, channel, user string, n int64) {
	is := st.inc(inc)
	k := [2]string{channel, user}
	old := is.members[k]
	if n == 0 {
		delete(is.members, k)
	} else {
		is.members[k] = n
	}
	if is.alive {
		st.addMember(channel, user, n-old)
	}
}

// beat records an incarnation's heartbeat: it counts from now on, unless
// it was seen dead before.
func (st *viewState) beat(inc string) {
	if st.dead[inc] || st.own != nil && st.own(inc) {
		return
	}
	is := st.inc(inc)
	if is.alive {
		return
	}
	is.alive = true
	for u, n := range is.users {
		st.addUser(u, n)
	}
	for k, n := range is.members {
		st.addMember(k[0], k[1], n)
	}
}

// kill marks an incarnation dead for good; its entries stop counting.
func (st *viewState) kill(inc string) {
	st.dead[inc] = true
	is := st.incs[inc]
	if is == nil || !is.alive {
		return
	}
	is.alive = false
	for u, n := range is.users {
		st.addUser(u, -n)
	}
	for k, n := range is.members {
		st.addMember(k[0], k[1], -n)
	}
}

// forget drops the entries of a dead incarnation that has none left.
func (st *viewState) forget(inc string) {
	if is := st.incs[inc]; is != nil && !is.alive && len(is.users) == 0 && len(is.members) == 0 {
		delete(st.incs, inc)
	}
}

func (st *viewState) addUser(user string, d int64) {
	if d == 0 {
		return
	}
	st.sessions += d
	if n := st.users[user] + d; n > 0 {
		st.users[user] = n
	} else {
		delete(st.users, user)
	}
}

func (st *viewState) addMember(channel, user string, d int64) {
	if d == 0 {
		return
	}
	m := st.members[channel]
	if m == nil {
		m = make(map[string]int64)
		st.members[channel] = m
		st.channels.Add(channel)
		st.chanUsers[channel] = &nameset.Set{}
	}
	before := m[user]
	after := before + d
	switch {
	case after > 0:
		m[user] = after
		if before <= 0 {
			st.chanUsers[channel].Add(user)
		}
	default:
		delete(m, user)
		st.chanUsers[channel].Remove(user)
	}
	if len(m) == 0 {
		delete(st.members, channel)
		delete(st.chanUsers, channel)
		st.channels.Remove(channel)
	}
}

// deadWithKeys returns the dead incarnations that still have entries, and
// their keys: what a cleanup purges.
func (st *viewState) deadWithKeys() map[string][]string {
	out := make(map[string][]string)
	for id, is := range st.incs {
		if is.alive || !st.dead[id] {
			continue
		}
		var keys []string
		for u := range is.users {
			keys = append(keys, withInc(id, userKey(u)))
		}
		for k := range is.members {
			keys = append(keys, withInc(id, memberKey(k[0], k[1])))
		}
		if len(keys) > 0 {
			out[id] = keys
		}
	}
	return out
}

// notify wakes the waiters of Sync; called with mu held.
func (v *view) notifyLocked() {
	close(v.changed)
	v.changed = make(chan struct{})
}
