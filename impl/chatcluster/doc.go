// Package chatcluster makes chat servers the nodes of one chat through
// NATS: a user on one node reaches users on the others, the lists and
// counts are the whole cluster's, and files are shared. A [Node] is the
// chatsvc.Hub a node's service uses, and its [Files] the shared store;
// [StartEmbedded] runs a NATS server with JetStream inside the process,
// so that a few chat-server processes form a cluster with nothing else
// installed.
//
// # What goes where
//
// Messages go through NATS core pub/sub, at most once: a message sent on
// node A reaches A's recipients directly and is published once, whatever
// the number of recipients and nodes, on <prefix>.msg.c.<channel> or
// <prefix>.msg.u.<user>, the name in lowercase hex of its bytes (never
// the raw name, so that "a.>" is neither a wildcard nor two tokens). The
// publish happens under the fan-out lock of the channel on A, and each
// node delivers what it receives in order on one subscription: every
// recipient, on every node, sees one node's messages to a channel in the
// order they were sent. Messages of senders on different nodes may
// interleave differently on different nodes.
//
// Each node subscribes once to <prefix>.msg.*.* and keeps the messages
// for which it has recipients. Subscribing per channel and per user
// would spare nodes the traffic of channels they have no member of, but
// NATS propagates a new subscription to the other servers of a cluster
// asynchronously, so the first messages after a join could be lost; with
// one subscription made at start there is no such window.
//
// Membership is in a JetStream KV bucket (<prefix>_members), every key
// under the incarnation of the node that wrote it, a random id taken at
// start and again after each reconnect:
//
//	n.<inc>                   the heartbeat, written every Heartbeat with a TTL of DeadAfter
//	u.<inc>.<user>            the number of the node's sessions logged in as user
//	c.<inc>.<channel>.<user>  the number of them that joined channel
//
// A node writes its own keys (one writer goroutine, in the order of the
// changes) and watches the whole bucket to keep a view: the totals over
// the other nodes' incarnations whose heartbeat is present. Its lists and
// counts merge that view with its own sessions, which it knows at once
// and without NATS. When a node dies its
// heartbeat expires, the bucket's limit marker tells every watcher, and
// its sessions leave the lists and counts at once; the live node with the
// smallest incarnation then purges the dead one's keys. An incarnation
// seen dead never counts again, whatever it writes later: a restarted
// node, or one cut off longer than DeadAfter, comes back under a new
// incarnation and cannot resurrect stale members.
//
// The bound: a dead node's sessions leave the others' membership and
// counts at most DeadAfter after its last heartbeat, plus the NATS
// server's TTL check (about a second) and the watch's delivery. With the
// defaults (heartbeat 1 s, dead after 5 s) that is about 6 s; the test
// cluster (0.2 s, 1 s) measured about 1 s.
//
// Lists read the view. So that a change answered on one node is seen by
// a request that starts after it on another, Sync (which the service
// calls after a login, join or leave, and before a channels or
// channel.users stream, and a private message to a user the view does not
// know) waits until the node's own changes are written and its view has
// applied everything the bucket held when it was called, bounded by
// SyncTimeout; with NATS unreachable it returns at once.
//
// Files are in a JetStream object store (<prefix>_files), see [Files].
//
// # Failures
//
// When the NATS connection drops, the node logs it, reports it in
// [Node.Health], and keeps serving its own sessions: local channel and
// private messages work; messages to other nodes are buffered by nats.go
// (8 MiB) and sent on reconnect, or lost past that; lists and counts show
// the other nodes as last seen and the node's own sessions as they are;
// file routes fail after OpTimeout. On
// reconnect nats.go subscribes again, the node writes its membership under
// a new incarnation and restarts its watches.
package chatcluster
