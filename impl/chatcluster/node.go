package chatcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rsocket-chat/rsgen/impl/chatsvc"
	"github.com/rsocket-chat/rsgen/impl/filestore"
	"github.com/rsocket-chat/rsgen/impl/nameset"
)

// Defaults of [Config].
const (
	// DefaultPrefix starts the subjects and bucket names of a cluster.
	DefaultPrefix = "chat"
	// DefaultHeartbeat is how often a node refreshes its heartbeat key.
	DefaultHeartbeat = time.Second
	// DefaultDeadAfter is the heartbeat key's TTL: a node that stops
	// refreshing it is dead to the others about this long after its last
	// heartbeat (plus the server's expiry check and the watch's delivery).
	DefaultDeadAfter = 5 * time.Second
	// DefaultSyncTimeout bounds Sync.
	DefaultSyncTimeout = 2 * time.Second
	// DefaultOpTimeout bounds one JetStream request (a KV write, a file).
	DefaultOpTimeout = 10 * time.Second
)

// Config configures a [Node].
type Config struct {
	// URL is the NATS server URL, or several separated by commas
	// (nats://a:4222,nats://b:4222).
	URL string
	// Name is the connection's name as NATS monitoring shows it (default
	// "chat-server").
	Name string
	// Prefix starts the message subjects (<prefix>.msg...) and names the
	// buckets (<prefix>_members, <prefix>_files); letters, digits, - and
	// _ (default "chat"). Nodes of one cluster use the same.
	Prefix string
	// Replicas is the JetStream replication of the buckets (default 1;
	// 3 on a cluster of three NATS servers keeps them available while
	// one is down).
	Replicas int
	// MemoryStorage keeps the buckets in memory rather than on disk.
	MemoryStorage bool
	// Heartbeat is how often the node refreshes its heartbeat (default 1s).
	Heartbeat time.Duration
	// DeadAfter is the heartbeat's TTL (default 5s, at least 1s and twice
	// Heartbeat): the bound after which a dead node's sessions leave the
	// others' membership and counts.
	DeadAfter time.Duration
	// SyncTimeout bounds the wait of Sync (default 2s).
	SyncTimeout time.Duration
	// OpTimeout bounds one JetStream request (default 10s).
	OpTimeout time.Duration
	// Files bounds the shared file store, as filestore.Limits bounds a
	// directory's.
	Files filestore.Limits
	// Logger receives the node's logs (default slog.Default()).
	Logger *slog.Logger
	// NATSOptions are added to the connection's options (TLS,
	// credentials, ...).
	NATSOptions []nats.Option
}

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (c Config) withDefaults() (Config, error) {
	if c.URL == "" {
		return c, errors.New("chatcluster: no NATS URL")
	}
	if c.Name == "" {
		c.Name = "chat-server"
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if !prefixRE.MatchString(c.Prefix) {
		return c, fmt.Errorf("chatcluster: prefix %q: use 1 to 64 letters, digits, - or _", c.Prefix)
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.DeadAfter <= 0 {
		c.DeadAfter = DefaultDeadAfter
	}
	if c.DeadAfter < time.Second || c.DeadAfter < 2*c.Heartbeat {
		return c, fmt.Errorf("chatcluster: dead-after %v must be at least 1s and twice the heartbeat (%v)", c.DeadAfter, c.Heartbeat)
	}
	if c.SyncTimeout <= 0 {
		c.SyncTimeout = DefaultSyncTimeout
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = DefaultOpTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// Node is one chat server's membership of a cluster: the chatsvc.Hub it
// passes to its service, and the shared file store (Files). Create one
// with [Connect].
type Node struct {
	cfg    Config
	log    *slog.Logger
	id     string // this process's, in every message it publishes
	nc     *nats.Conn
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	bucket string
	files  *Files
	sub    *nats.Subscription
	svc    atomic.Pointer[chatsvc.Service]
	view   *view // the other nodes' sessions

	// own is this node's sessions, under selfInc; ownIncs holds every
	// incarnation this process has had.
	ownMu   sync.RWMutex
	own     *viewState
	ownIncs sync.Map

	ctx    context.Context // the node's life
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{} // the writer's
	// rewatch and rewatchFiles restart the watches (after a reconnect);
	// made before the connection, whose handlers use them.
	rewatch, rewatchFiles chan struct{}

	// mu guards the node's own membership and its writing.
	mu      sync.Mutex
	inc     string           // the current incarnation
	retired []string         // earlier incarnations whose heartbeat to purge
	desired map[string]int64 // node-relative key -> count (> 0)
	dirty   map[string]struct{}
	beat    bool   // the heartbeat is due
	gen     uint64 // changes made
	flushed uint64 // changes written
	// flushedC is closed and replaced when flushed advances.
	flushedC chan struct{}

	health struct {
		sync.Mutex
		connected   bool
		since       time.Time
		server      string
		disconnects uint64
		reconnects  uint64
		lastErr     string
	}
	publishErrs atomic.Uint64
}

var _ chatsvc.Hub = (*Node)(nil)

// wireMsg is a relayed message on NATS; the channel or user is in the
// subject.
type wireMsg struct {
	Origin  string  `json:"o"`
	From    string  `json:"f"`
	Content *string `json:"c,omitempty"`
}

// Connect connects to NATS, creates the buckets if they are missing,
// announces the node (its heartbeat), subscribes to the cluster's
// messages and returns once its view of the membership is loaded. Pass
// the Node as chatsvc.Config.Hub and its Files as chatsvc.Config.Files.
func Connect(ctx context.Context, cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:          cfg,
		log:          cfg.Logger.With("component", "chatcluster"),
		id:           newID(),
		bucket:       cfg.Prefix + "_members",
		wake:         make(chan struct{}, 1),
		rewatch:      make(chan struct{}, 1),
		rewatchFiles: make(chan struct{}, 1),
		desired:      make(map[string]int64),
		dirty:        make(map[string]struct{}),
		flushedC:     make(chan struct{}),
	}
	n.inc = newID()
	n.ownIncs.Store(n.inc, true)
	n.view = newView(n.isOwn)
	n.own = newViewState(nil, nil)
	n.own.beat(selfInc)
	n.ctx, n.cancel = context.WithCancel(context.Background())
	opts := append([]nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(n.onDisconnect),
		nats.ReconnectHandler(n.onReconnect),
		nats.ErrorHandler(n.onAsyncError),
	}, cfg.NATSOptions...)
	if n.nc, err = nats.Connect(cfg.URL, opts...); err != nil {
		n.cancel()
		return nil, fmt.Errorf("chatcluster: connecting to NATS at %s: %w", cfg.URL, err)
	}
	fail := func(err error) (*Node, error) {
		n.cancel()
		n.nc.Close()
		return nil, err
	}
	n.setConnected(true, n.nc.ConnectedUrlRedacted())
	if n.js, err = jetstream.New(n.nc); err != nil {
		return fail(fmt.Errorf("chatcluster: %w", err))
	}
	storage := jetstream.FileStorage
	if cfg.MemoryStorage {
		storage = jetstream.MemoryStorage
	}
	if err := retry(ctx, func(ctx context.Context) (err error) {
		n.kv, err = n.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:         n.bucket,
			Description:    "chat cluster membership: node heartbeats, users and channel members by node",
			History:        1,
			Storage:        storage,
			Replicas:       cfg.Replicas,
			LimitMarkerTTL: cfg.DeadAfter,
		})
		return err
	}); err != nil {
		return fail(fmt.Errorf("chatcluster: membership bucket %s: %w", n.bucket, err))
	}
	var obs jetstream.ObjectStore
	if err := retry(ctx, func(ctx context.Context) (err error) {
		obs, err = n.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      cfg.Prefix + "_files",
			Description: "chat cluster files",
			Storage:     storage,
			Replicas:    cfg.Replicas,
		})
		return err
	}); err != nil {
		return fail(fmt.Errorf("chatcluster: file bucket %s_files: %w", cfg.Prefix, err))
	}
	n.files = newFiles(obs, cfg.Files, cfg.OpTimeout, n.log)
	// The heartbeat goes first, so that every watcher sees the node live
	// before any of its entries.
	if err := n.putBeat(ctx, n.inc); err != nil {
		return fail(fmt.Errorf("chatcluster: announcing the node: %w", err))
	}
	if n.sub, err = n.nc.Subscribe(msgWildcard(cfg.Prefix), n.onMsg); err != nil {
		return fail(fmt.Errorf("chatcluster: subscribing: %w", err))
	}
	if err := n.nc.FlushWithContext(ctx); err != nil {
		return fail(fmt.Errorf("chatcluster: subscribing: %w", err))
	}
	n.wg.Add(3)
	go n.writeLoop()
	go n.watchLoop()
	go n.files.watchLoop(n.ctx, &n.wg, n.rewatchFiles)
	// Wait for the membership view, so that the node answers for the
	// whole cluster from its first request.
	for {
		n.view.mu.RLock()
		ready, changed := n.view.ready, n.view.changed
		n.view.mu.RUnlock()
		if ready {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			n.abort()
			return nil, fmt.Errorf("chatcluster: loading the membership: %w", ctx.Err())
		}
	}
	n.log.Info("joined the chat cluster", "nats", n.nc.ConnectedUrlRedacted(), "incarnation", n.inc,
		"heartbeat", cfg.Heartbeat, "dead_after", cfg.DeadAfter, "replicas", cfg.Replicas)
	return n, nil
}

// retry runs op until it succeeds or ctx ends, each attempt bounded by a
// few seconds: right after a JetStream cluster starts (or loses its
// leader) its API can leave a request unanswered or refuse it for a
// while.
func retry(ctx context.Context, op func(context.Context) error) error {
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := op(actx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// Files returns the cluster's shared file store, for chatsvc.Config.Files.
func (n *Node) Files() *Files { return n.files }

// Close leaves the cluster cleanly: the node's heartbeat is removed
// first, so the others stop counting its sessions at once rather than
// after the TTL, then its entries (within OpTimeout; what is left, the
// live node that cleans up purges), then the connection is drained.
// Close the chat server first.
func (n *Node) Close() error {
	n.cancel()
	n.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.OpTimeout)
	defer cancel()
	n.mu.Lock()
	inc := n.inc
	keys := make([]string, 0, len(n.desired)+len(n.dirty))
	for k := range n.desired {
		keys = append(keys, k)
	}
	for k := range n.dirty {
		if _, ok := n.desired[k]; !ok {
			keys = append(keys, k)
		}
	}
	n.mu.Unlock()
	var errs []error
	if n.nc.IsConnected() {
		errs = append(errs, n.purge(ctx, heartbeatKey(inc)))
		for _, k := range keys {
			errs = append(errs, n.purge(ctx, withInc(inc, k)))
		}
	}
	errs = append(errs, n.nc.Drain())
	return errors.Join(errs...)
}

// abort stops the node as a crash would: no goodbye, the connection
// closed; the others notice when its heartbeat expires.
func (n *Node) abort() {
	n.cancel()
	n.nc.Close()
	n.wg.Wait()
}

// Attach implements chatsvc.Hub.
func (n *Node) Attach(svc *chatsvc.Service) { n.svc.Store(svc) }

// SetUser implements chatsvc.Hub: the node's own view has it at once,
// the bucket once the writer has written it.
func (n *Node) SetUser(user string, count int) {
	n.ownMu.Lock()
	n.own.setUser(selfInc, user, int64(count))
	n.ownMu.Unlock()
	n.set(userKey(user), int64(count))
}

// SetMember implements chatsvc.Hub.
func (n *Node) SetMember(channel, user string, count int) {
	n.ownMu.Lock()
	n.own.setMember(selfInc, channel, user, int64(count))
	n.ownMu.Unlock()
	n.set(memberKey(channel, user), int64(count))
}

// selfInc is the incarnation under which the node records its own
// sessions in its own state (n.own), which never goes through the bucket.
const selfInc = "self"

// isOwn reports whether an incarnation is one of this process's: the
// bucket view never counts them, since n.own has the node's sessions as
// they are now, connected to NATS or not.
func (n *Node) isOwn(inc string) bool {
	_, ok := n.ownIncs.Load(inc)
	return ok
}

func (n *Node) set(key string, v int64) {
	n.mu.Lock()
	if v > 0 {
		n.desired[key] = v
	} else {
		delete(n.desired, key)
	}
	n.dirty[key] = struct{}{}
	n.gen++
	n.mu.Unlock()
	n.poke()
}

func (n *Node) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// PublishChannel implements chatsvc.Hub: one NATS publish per message,
// whatever the number of members and nodes.
func (n *Node) PublishChannel(channel, from string, content *string) {
	n.publish(kindChannel, channel, from, content)
}

// PublishPrivate implements chatsvc.Hub.
func (n *Node) PublishPrivate(user, from string, content *string) {
	n.publish(kindUser, user, from, content)
}

func (n *Node) publish(kind, name, from string, content *string) {
	b, err := json.Marshal(wireMsg{Origin: n.id, From: from, Content: content})
	if err == nil {
		// While disconnected, nats.go buffers publishes (8 MiB) and sends
		// them on reconnect; past that it fails and the message is lost.
		err = n.nc.Publish(msgSubject(n.cfg.Prefix, kind, name), b)
	}
	if err != nil {
		if c := n.publishErrs.Add(1); c == 1 || c%1024 == 0 {
			n.log.Warn("relaying a message to the cluster failed; it reached this node's recipients only",
				"err", err, "failures", c)
		}
	}
}

// onMsg delivers a message relayed by another node to this node's
// recipients. It runs on the subscription's goroutine, one message at a
// time in the order NATS delivers them: a sender's messages stay in order.
func (n *Node) onMsg(m *nats.Msg) {
	kind, name, ok := parseMsgSubject(n.cfg.Prefix, m.Subject)
	var w wireMsg
	if ok && json.Unmarshal(m.Data, &w) != nil || w.From == "" {
		ok = false
	}
	if !ok {
		n.log.Debug("ignoring a malformed cluster message", "subject", m.Subject, "bytes", len(m.Data))
		return
	}
	svc := n.svc.Load()
	if w.Origin == n.id || svc == nil {
		return // its own recipients got it when it was sent
	}
	if kind == kindChannel {
		svc.DeliverChannel(name, w.From, w.Content)
	} else {
		svc.DeliverPrivate(name, w.From, w.Content)
	}
}

// Sync implements chatsvc.Hub: it waits until this node's changes are
// written, then until its view has applied every change the bucket held
// when Sync was called. It gives up after Config.SyncTimeout, and at once
// when NATS is unreachable: the node then answers from what it knows.
func (n *Node) Sync(ctx context.Context) {
	if !n.nc.IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.SyncTimeout)
	defer cancel()
	n.mu.Lock()
	want := n.gen
	n.mu.Unlock()
	for {
		n.mu.Lock()
		done, c := n.flushed >= want, n.flushedC
		n.mu.Unlock()
		if done {
			break
		}
		select {
		case <-c:
		case <-ctx.Done():
			n.log.Debug("sync: own changes not written in time")
			return
		}
	}
	st, err := n.kv.Status(ctx)
	if err != nil {
		n.log.Debug("sync: bucket status", "err", err)
		return
	}
	last := st.(*jetstream.KeyValueBucketStatus).StreamInfo().State.LastSeq
	for {
		n.view.mu.RLock()
		done, c := n.view.ready && n.view.rev >= last, n.view.changed
		n.view.mu.RUnlock()
		if done {
			return
		}
		select {
		case <-c:
		case <-ctx.Done():
			n.log.Debug("sync: view behind the bucket", "want", last)
			return
		}
	}
}

// UserOnline implements chatsvc.Hub; a user the view does not know is
// looked for again after a Sync, so a login answered anywhere counts.
func (n *Node) UserOnline(ctx context.Context, user string) bool {
	if n.userOnline(user) {
		return true
	}
	n.Sync(ctx)
	return n.userOnline(user)
}

// The views merge the other nodes' sessions (the bucket view, which
// leaves out this process's incarnations) with this node's own (n.own):
// the node's own changes show at once, and go on showing while NATS is
// unreachable.

func (n *Node) userOnline(user string) bool {
	n.ownMu.RLock()
	mine := n.own.users[user] > 0
	n.ownMu.RUnlock()
	n.view.mu.RLock()
	defer n.view.mu.RUnlock()
	return mine || n.view.st.users[user] > 0
}

// ChannelAfter implements chatsvc.Hub.
func (n *Node) ChannelAfter(prev string) (string, bool) {
	n.ownMu.RLock()
	mine := n.own.channels
	n.ownMu.RUnlock()
	n.view.mu.RLock()
	others := n.view.st.channels
	n.view.mu.RUnlock()
	return after(prev, mine, others)
}

// ChannelUserAfter implements chatsvc.Hub.
func (n *Node) ChannelUserAfter(channel, prev string) (string, bool) {
	n.ownMu.RLock()
	mine := n.own.chanUsers[channel]
	n.ownMu.RUnlock()
	n.view.mu.RLock()
	others := n.view.st.chanUsers[channel]
	n.view.mu.RUnlock()
	return after(prev, mine, others)
}

// after returns the smallest name greater than prev in either set (nil
// sets are empty).
func after(prev string, a, b *nameset.Set) (string, bool) {
	var x, y string
	var okX, okY bool
	if a != nil {
		x, okX = a.After(prev)
	}
	if b != nil {
		y, okY = b.After(prev)
	}
	switch {
	case okX && okY:
		return min(x, y), true
	case okX:
		return x, true
	default:
		return y, okY
	}
}

// Counts implements chatsvc.Hub.
func (n *Node) Counts() (users, channels int64) {
	n.ownMu.RLock()
	defer n.ownMu.RUnlock()
	n.view.mu.RLock()
	defer n.view.mu.RUnlock()
	users = n.own.sessions + n.view.st.sessions
	channels = int64(len(n.view.st.members))
	for ch := range n.own.members {
		if _, known := n.view.st.members[ch]; !known {
			channels++
		}
	}
	return users, channels
}

// Health is a node's view of its link to the cluster.
type Health struct {
	// Connected is whether the NATS connection is up; while it is down
	// the node serves its own sessions only.
	Connected bool
	// Since is when Connected last changed.
	Since time.Time
	// Server is the NATS server connected to (credentials redacted).
	Server string
	// Incarnation is the node's current incarnation: it changes after
	// each reconnect.
	Incarnation string
	// Disconnects and Reconnects count the connection's losses and
	// recoveries.
	Disconnects, Reconnects uint64
	// LastError is the last connection error, "" if none.
	LastError string
	// PublishErrors counts the messages that could not be relayed.
	PublishErrors uint64
	// LiveNodes is the number of live nodes in the node's view, itself
	// included.
	LiveNodes int
}

// Health returns the node's link state, for logs and metrics.
func (n *Node) Health() Health {
	n.health.Lock()
	h := Health{
		Connected: n.health.connected, Since: n.health.since, Server: n.health.server,
		Disconnects: n.health.disconnects, Reconnects: n.health.reconnects, LastError: n.health.lastErr,
	}
	n.health.Unlock()
	n.mu.Lock()
	h.Incarnation = n.inc
	n.mu.Unlock()
	h.PublishErrors = n.publishErrs.Load()
	h.LiveNodes = 1
	n.view.mu.RLock()
	for _, is := range n.view.st.incs {
		if is.alive {
			h.LiveNodes++
		}
	}
	n.view.mu.RUnlock()
	return h
}

func (n *Node) setConnected(up bool, server string) {
	n.health.Lock()
	defer n.health.Unlock()
	n.health.connected, n.health.since = up, time.Now()
	if up {
		n.health.server = server
	}
}

func (n *Node) onDisconnect(_ *nats.Conn, err error) {
	n.health.Lock()
	n.health.disconnects++
	if err != nil {
		n.health.lastErr = err.Error()
	}
	n.health.Unlock()
	n.setConnected(false, "")
	if n.ctx.Err() == nil {
		n.log.Warn("lost the NATS connection: serving this node's sessions only until it is back", "err", err)
	}
}

// onReconnect re-establishes the membership: nats.go has already sent
// the subscription again; the node takes a new incarnation (its old
// heartbeat may have expired meanwhile, and an expired incarnation never
// counts again), writes all its entries under it, and restarts the
// watches, whose consumers the outage may have broken.
func (n *Node) onReconnect(nc *nats.Conn) {
	n.health.Lock()
	n.health.reconnects++
	n.health.Unlock()
	n.setConnected(true, nc.ConnectedUrlRedacted())
	inc := n.reincarnate()
	n.log.Info("NATS connection re-established: re-announcing this node's membership",
		"nats", nc.ConnectedUrlRedacted(), "incarnation", inc)
	select {
	case n.rewatch <- struct{}{}:
	default:
	}
	select {
	case n.rewatchFiles <- struct{}{}:
	default:
	}
}

func (n *Node) onAsyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	n.health.Lock()
	n.health.lastErr = err.Error()
	n.health.Unlock()
	if errors.Is(err, nats.ErrSlowConsumer) {
		n.log.Warn("cluster messages dropped: this node reads them slower than they arrive", "err", err)
		return
	}
	n.log.Warn("NATS error", "err", err)
}
