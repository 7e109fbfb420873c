package chatsvc

import (
	"context"

	"github.com/rsocket-chat/rsgen/impl/filestore"
)

// Hub shares a Service's users, channels and messages with the other
// nodes of a cluster (package chatcluster has one, on NATS). A Service
// without one ([Config].Hub nil) is a single node: it uses a hub of its
// own that answers from its local registry and relays nothing.
//
// The Service keeps its local registry and delivers to its own sessions
// directly; the hub learns of every membership change of the node's
// sessions, relays the messages they send to the other nodes, delivers
// the other nodes' messages back through [Service.DeliverChannel] and
// [Service.DeliverPrivate], and answers the cluster-wide views (who is
// online, the channels, a channel's users, the counts).
type Hub interface {
	// Attach is called once, by New, before any other method: svc is the
	// service the hub delivers the other nodes' messages to.
	Attach(svc *Service)
	// SetUser records that n of this node's sessions are logged in as
	// user (0: none any more). It is called under the service's registry
	// lock, in the order of the changes, and must not block.
	SetUser(user string, n int)
	// SetMember records that n of this node's sessions logged in as user
	// have joined channel (0: none any more); called like SetUser.
	SetMember(channel, user string, n int)
	// PublishChannel relays a message that a session of this node sent to
	// channel to the other nodes' members. It is called under the
	// channel's fan-out lock, after the local members got it, so that a
	// channel's recipients on every node see this node's messages in one
	// order; it must not block.
	PublishChannel(channel, from string, content *string)
	// PublishPrivate relays a private message from a session of this node
	// to user's sessions on the other nodes; called like PublishChannel.
	PublishPrivate(user, from string, content *string)
	// Sync waits, for a bounded time, until this node's own changes are
	// shared and the views below reflect every change the cluster
	// acknowledged before the call: a join answered on one node is then
	// listed by a channels request that starts after it on another.
	Sync(ctx context.Context)
	// UserOnline reports whether a session on any node is logged in as
	// user.
	UserOnline(ctx context.Context, user string) bool
	// ChannelAfter returns the smallest channel name (of any node) greater
	// than prev, and whether there is one.
	ChannelAfter(prev string) (string, bool)
	// ChannelUserAfter returns the smallest user name greater than prev
	// among channel's members on every node, and whether there is one.
	ChannelUserAfter(channel, prev string) (string, bool)
	// Counts returns the statistics' counts: the logged-in sessions and
	// the channels of the whole cluster.
	Counts() (users, channels int64)
}

// Files is the store behind the file routes: *filestore.Store (a
// directory of one node) or a cluster's shared store. Its errors wrap
// filestore's (ErrNotFound, ErrTooLarge, ...), whose texts are meant for
// chat users.
type Files interface {
	// Limits returns the limits the store enforces.
	Limits() filestore.Limits
	// Put stores data under name, atomically: a reader gets the whole old
	// file or the whole new one.
	Put(name string, data []byte) error
	// Get returns the file stored under name.
	Get(name string) ([]byte, error)
	// Size returns the size of the file stored under name, and whether
	// there is one.
	Size(name string) (int64, bool)
	// After returns the smallest stored name greater than prev, and
	// whether there is one.
	After(prev string) (string, bool)
	// List returns the stored names, sorted.
	List() []string
}

var _ Files = (*filestore.Store)(nil)

// localHub is the hub of a single node: its views are the service's own
// registry, and there is no other node to relay to.
type localHub struct{ s *Service }

var _ Hub = localHub{}

func (localHub) Attach(*Service)                        {}
func (localHub) SetUser(string, int)                    {}
func (localHub) SetMember(string, string, int)          {}
func (localHub) PublishChannel(string, string, *string) {}
func (localHub) PublishPrivate(string, string, *string) {}
func (localHub) Sync(context.Context)                   {}

func (h localHub) UserOnline(_ context.Context, user string) bool {
	h.s.mu.RLock()
	defer h.s.mu.RUnlock()
	return len(h.s.users[user]) > 0
}

func (h localHub) ChannelAfter(prev string) (string, bool) { return h.s.channelIndex.After(prev) }

func (h localHub) ChannelUserAfter(channel, prev string) (string, bool) {
	return h.s.localChannelUserAfter(channel, prev)
}

func (h localHub) Counts() (users, channels int64) { return h.s.counts() }
