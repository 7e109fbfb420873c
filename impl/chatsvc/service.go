package chatsvc

import (
	"context"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	rsrt "github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/nameset"
)

// Defaults of [Config].
const (
	// DefaultQueueLen is the default number of messages a session queues.
	DefaultQueueLen = 1024
	// DefaultQueueBytes is the default bound of a session queue's content.
	DefaultQueueBytes = 4 << 20
	// DefaultMaxContentBytes is the default largest message content: the
	// max_length of Message.content in schema/chat.yaml, which the
	// generated decoder enforces on every message received.
	DefaultMaxContentBytes = 64 << 10
	// DefaultMaxJoined is the default number of channels a session may join.
	DefaultMaxJoined = 256
	// DefaultMaxQueuedBytes is the default bound of the content queued by
	// all sessions together.
	DefaultMaxQueuedBytes = 256 << 20
	// DefaultTimeCallTimeout bounds the server's call to a client's time route.
	DefaultTimeCallTimeout = 10 * time.Second
	// DefaultUploadMemoryBytes is the default server-wide bound of the
	// upload payloads held in memory: 16 of the largest files by default.
	DefaultUploadMemoryBytes = 256 << 20
)

// Config configures a [Service]. Zero values mean the defaults.
type Config struct {
	// Files stores the uploaded files (a *filestore.Store, or a
	// cluster's shared store); when nil the file routes answer that file
	// storage is not available.
	Files Files
	// Hub shares users, channels and messages with the other nodes of a
	// cluster (package chatcluster); nil means a single node, with
	// nothing shared.
	Hub Hub
	// Logger receives the service's structured logs (default
	// slog.Default()). Message contents are never logged.
	Logger *slog.Logger
	// QueueLen is how many messages a session queues for its
	// messages.incoming stream before dropping the oldest (default 1024).
	QueueLen int
	// QueueBytes bounds the content bytes a session queues, the same way
	// (default 4 MiB).
	QueueBytes int
	// MaxQueuedBytes bounds the content queued by all sessions together
	// (default 256 MiB): over it, a session that receives a message while
	// holding more than its fair share drops its oldest ones (see
	// queueBudget), so that many sessions that never read cannot together
	// exhaust the server's memory.
	MaxQueuedBytes int64
	// MaxContentBytes lowers the largest message content accepted, for
	// an operator who wants less than the schema's 64 KiB (the default);
	// more has no effect, since the decoder refuses longer content before
	// the service sees it.
	MaxContentBytes int
	// MaxJoined is how many channels one session may have joined at once
	// (default 256).
	MaxJoined int
	// TimeCallTimeout bounds the call to a client's time route (default 10s).
	TimeCallTimeout time.Duration
	// Auth, when set, makes every connection authenticate in its SETUP
	// (the RSocket authentication extension) and log in only under the
	// name it authenticated as. Unset, anyone may log in as anyone, as in
	// the tutorial.
	Auth Authenticator
	// UploadMemoryBytes bounds, server-wide, the bytes of the upload
	// payloads the service holds, from the moment a file.upload handler
	// gets one until the file store has written it (default 256 MiB,
	// raised to the store's largest file if that is more). One
	// connection's uploads hold at most a quarter of it (at least the
	// largest file), so that a connection pipelining uploads leaves room
	// for the others'. An upload that does not fit is refused at once with
	// an APPLICATION_ERROR ("server busy ..."): its payload is in memory
	// already, and making it wait would hold it there, which is what the
	// budget bounds.
	UploadMemoryBytes int64
}

// Authenticator checks the credentials a client sent in its SETUP and
// returns the user they prove to be (chatauth.Users is one).
type Authenticator interface {
	Authenticate(rsrt.Credentials) (user string, err error)
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.QueueLen <= 0 {
		c.QueueLen = DefaultQueueLen
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	if c.MaxQueuedBytes <= 0 {
		c.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if c.MaxContentBytes <= 0 {
		c.MaxContentBytes = DefaultMaxContentBytes
	}
	if c.MaxJoined <= 0 {
		c.MaxJoined = DefaultMaxJoined
	}
	if c.TimeCallTimeout <= 0 {
		c.TimeCallTimeout = DefaultTimeCallTimeout
	}
	if c.UploadMemoryBytes <= 0 {
		c.UploadMemoryBytes = DefaultUploadMemoryBytes
	}
	if c.Files != nil {
		c.UploadMemoryBytes = max(c.UploadMemoryBytes, c.Files.Limits().MaxFileBytes)
	}
	return c
}

// Service is the chat's shared state: the sessions, the users, the channels
// and the file store. Create one with [New] and hand its NewSession to
// chat.NewAcceptor. It is safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger
	// hub is the cluster's (Config.Hub), or a localHub.
	hub Hub
	// statsUnit is the length of one period_seconds unit; tests shorten it.
	statsUnit time.Duration

	// mu guards the registry below and the registry fields of every
	// Session. It is a read-write lock because every message only reads
	// the registry (to copy its recipients), while joins, leaves, logins
	// and session ends are rare; the pushes happen after it is released,
	// under a fan-out lock, so that a 1000-member channel message does not
	// hold every other sender and every join up.
	// queued bounds the content queued by all sessions together.
	queued *queueBudget

	mu       sync.RWMutex
	sessions map[*Session]struct{}            // open connections
	users    map[string]map[*Session]struct{} // logged-in sessions by user name
	channels map[string]*channelState         // by name

	// channelIndex is the sorted index of the channel names that the
	// channels streams walk: one snapshot shared by all of them, rebuilt
	// at most once per change (package nameset).
	channelIndex nameset.Set

	// fanout serialises the pushes of the messages to one channel (or
	// one user), which gives all its recipients the same order. The lock
	// is picked by a hash of the name rather than stored with the channel
	// so that a channel that disappears with its last member and is
	// created again keeps its lock: a sender still pushing to the old
	// member list cannot interleave with one pushing to the new. Names
	// that share a stripe only wait for each other.
	fanout     [fanoutStripes]sync.Mutex
	fanoutSeed maphash.Seed

	enqueued, delivered, dropped, clientReports atomic.Uint64
	incomingStreams                             atomic.Int64

	// uploadBytes is the bytes of upload payloads being stored, bounded by
	// cfg.UploadMemoryBytes; uploadsBusy counts the uploads refused for it.
	uploadBytes atomic.Int64
	uploadsBusy atomic.Uint64
	// uploadShare is what one connection's uploads may hold of the budget:
	// a quarter of it, at least the largest file.
	uploadShare int64
}

// fanoutStripes is the number of fan-out locks; a power of two well above
// the cores, so that unrelated channels rarely share one.
const fanoutStripes = 256

// New returns a Service.
func New(cfg Config) *Service {
	cfg = cfg.withDefaults()
	s := &Service{
		cfg:        cfg,
		log:        cfg.Logger,
		statsUnit:  time.Second,
		fanoutSeed: maphash.MakeSeed(),
		queued:     &queueBudget{limit: cfg.MaxQueuedBytes},
		sessions:   make(map[*Session]struct{}),
		users:      make(map[string]map[*Session]struct{}),
		channels:   make(map[string]*channelState),
		uploadShare: func() int64 {
			share := cfg.UploadMemoryBytes / 4
			if cfg.Files != nil {
				share = max(share, cfg.Files.Limits().MaxFileBytes)
			}
			return share
		}(),
	}
	s.hub = cfg.Hub
	if s.hub == nil {
		s.hub = localHub{s}
	}
	s.hub.Attach(s)
	return s
}

// InlineRoutes returns the request-response routes to run on their
// connection's read loop (rsrt.WithInline): message, the hot path, whose
// handler on a single node only takes the service's locks briefly and
// queues. In a cluster none: a private message to a user this node's
// view lacks waits for a Sync with the other nodes.
func (s *Service) InlineRoutes() []string {
	if _, local := s.hub.(localHub); local {
		return []string{chat.RouteMessage}
	}
	return nil
}

// NewSession creates the session of one accepted connection. Pass it to
// chat.NewAcceptor, with the interceptor RequireLogin. The session ends when peer.Context() is done: it leaves
// its channels and the user count at once.
func (s *Service) NewSession(_ context.Context, peer *chat.Peer) (chat.Server, error) {
	var authUser string
	if s.cfg.Auth != nil {
		user, err := s.authenticate(peer)
		if err != nil {
			s.log.Info("connection refused: authentication failed", "remote", peer.RemoteAddr(), "err", err)
			return nil, err
		}
		authUser = user
	}
	var timeFn func(context.Context) (string, error)
	if peer.Declares(rsrt.RequestResponse, chat.RouteTime) {
		timeFn = peer.Time
	}
	ss := s.newSession(peer.Context(), peer.RemoteAddr(), timeFn)
	ss.authUser = authUser
	return ss, nil
}

// authenticate checks the credentials of a connection's SETUP. Its errors
// refuse the SETUP (REJECTED_SETUP) with a text that says what to do and
// never why a given password failed.
func (s *Service) authenticate(peer *chat.Peer) (string, error) {
	c, ok, err := peer.Setup().Credentials()
	switch {
	case err != nil:
		return "", rsrt.NewError("malformed authentication metadata: %v", err)
	case !ok:
		return "", rsrt.NewError("authentication required: send simple or bearer credentials (%s) in the SETUP", rsrt.MIMEAuthentication)
	}
	user, err := s.cfg.Auth.Authenticate(c)
	if err != nil {
		return "", rsrt.NewError("authentication failed")
	}
	return user, nil
}

// newSession creates a session that lives until ctx is done. timeFn, when
// not nil, is the client's time route, called after login.
func (s *Service) newSession(ctx context.Context, remote string, timeFn func(context.Context) (string, error)) *Session {
	ss := &Session{
		svc:    s,
		ctx:    ctx,
		remote: remote,
		timeFn: timeFn,
		joined: make(map[string]struct{}),
	}
	ss.queue = newQueue(s.cfg.QueueLen, s.cfg.QueueBytes, s.queued, ss.onDrop)
	ss.queue.onPush = ss.wakeIncoming
	s.mu.Lock()
	s.sessions[ss] = struct{}{}
	s.mu.Unlock()
	// The runtime logs the connection itself; the session logs its login
	// and its end, with what the chat knows.
	context.AfterFunc(ctx, ss.close)
	return ss
}

// Stats is a snapshot of the service's counters.
type Stats struct {
	// Connections is the number of open sessions, logged in or not.
	Connections int
	// LoggedIn is the number of logged-in sessions (the user count).
	LoggedIn int
	// Users is the number of distinct logged-in user names.
	Users int
	// Channels is the number of channels.
	Channels int
	// Queued is the number of messages waiting in all session queues.
	Queued int
	// QueuedBytes is the content bytes waiting in all session queues.
	QueuedBytes int
	// LongestQueue is the length of the longest session queue.
	LongestQueue int
	// IncomingStreams is the number of messages.incoming streams being
	// served.
	IncomingStreams int
	// Enqueued counts messages put in a session queue since start.
	Enqueued uint64
	// Delivered counts messages sent on a messages.incoming stream.
	Delivered uint64
	// Dropped counts messages dropped from full queues (oldest first).
	Dropped uint64
	// DroppedOverShare counts those of Dropped that the queue's own
	// bounds kept, but not the service's (MaxQueuedBytes): the queue held
	// more than its share while all of them together held too much.
	DroppedOverShare uint64
	// ClientReports counts the statistics fire-and-forget reports received.
	ClientReports uint64
	// UploadBytes is the bytes of upload payloads being stored now.
	UploadBytes int64
	// UploadsBusy counts the uploads refused because the upload memory
	// budget (Config.UploadMemoryBytes) was exhausted.
	UploadsBusy uint64
}

// Stats returns a snapshot of the service's counters.
func (s *Service) Stats() Stats {
	st := Stats{
		Enqueued:         s.enqueued.Load(),
		Delivered:        s.delivered.Load(),
		Dropped:          s.dropped.Load(),
		DroppedOverShare: s.queued.overShare.Load(),
		ClientReports:    s.clientReports.Load(),
		UploadBytes:      s.uploadBytes.Load(),
		UploadsBusy:      s.uploadsBusy.Load(),

		IncomingStreams: int(s.incomingStreams.Load()),
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st.Connections = len(s.sessions)
	st.Users = len(s.users)
	st.Channels = len(s.channels)
	for ss := range s.sessions {
		if ss.userName() != "" {
			st.LoggedIn++
		}
		n, b, _ := ss.queue.stats()
		st.Queued += n
		st.QueuedBytes += b
		st.LongestQueue = max(st.LongestQueue, n)
	}
	return st
}

// holdUpload takes n bytes of the upload memory budget, or reports the
// budget exhausted (and how much is held) without taking anything.
func (s *Service) holdUpload(n int64) (ok bool, held int64) {
	for {
		held = s.uploadBytes.Load()
		if held+n > s.cfg.UploadMemoryBytes {
			s.uploadsBusy.Add(1)
			return false, held
		}
		if s.uploadBytes.CompareAndSwap(held, held+n) {
			return true, held + n
		}
	}
}

// UploadMemoryBytes returns the upload memory budget in force.
func (s *Service) UploadMemoryBytes() int64 { return s.cfg.UploadMemoryBytes }

// releaseUpload gives back what holdUpload took.
func (s *Service) releaseUpload(n int64) { s.uploadBytes.Add(-n) }

// counts returns the user count (logged-in sessions) and channel count
// reported by the statistics channel.
func (s *Service) counts() (users, channels int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, set := range s.users {
		users += int64(len(set))
	}
	return users, int64(len(s.channels))
}

// login records ss as logged in as user.
func (s *Service) login(ss *Session, user string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss.closed {
		return "", rsrt.NewError("connection is closing")
	}
	if u := ss.userName(); u != "" {
		return "", rsrt.NewError("already logged in as %q on this connection", u)
	}
	ss.id = uuid.NewString()
	// A copy of the name, set once: the message path reads it without
	// the service lock.
	name := user
	ss.user.Store(&name)
	set := s.users[user]
	if set == nil {
		set = make(map[*Session]struct{})
		s.users[user] = set
	}
	set[ss] = struct{}{}
	s.hub.SetUser(user, len(set))
	return ss.id, nil
}

// join adds ss to channel, creating the channel if new.
func (s *Service) join(ss *Session, channel string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss.closed {
		return rsrt.NewError("connection is closing")
	}
	if _, ok := ss.joined[channel]; ok {
		return nil // joining twice is harmless
	}
	if len(ss.joined) >= s.cfg.MaxJoined {
		return rsrt.NewError("cannot join %q: this connection has joined %d channels, the limit", channel, len(ss.joined))
	}
	ch := s.channels[channel]
	if ch == nil {
		ch = &channelState{members: make(map[*Session]struct{}), users: make(map[string]int)}
		s.channels[channel] = ch
		s.channelIndex.Add(channel)
	}
	ch.members[ss] = struct{}{}
	user := ss.userName()
	if ch.users[user]++; ch.users[user] == 1 {
		ch.userNames.Add(user)
	}
	s.hub.SetMember(channel, user, ch.users[user])
	ss.joined[channel] = struct{}{}
	return nil
}

// leave removes ss from channel; leaving a channel one is not in is a
// no-op, as in the tutorial. A channel disappears with its last member.
func (s *Service) leave(ss *Session, channel string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leaveLocked(ss, channel)
}

func (s *Service) leaveLocked(ss *Session, channel string) {
	delete(ss.joined, channel)
	ch := s.channels[channel]
	if ch == nil {
		return
	}
	if _, ok := ch.members[ss]; !ok {
		return
	}
	delete(ch.members, ss)
	user := ss.userName()
	if ch.users[user]--; ch.users[user] == 0 {
		delete(ch.users, user)
		ch.userNames.Remove(user)
	}
	s.hub.SetMember(channel, user, ch.users[user])
	if len(ch.members) == 0 {
		delete(s.channels, channel)
		s.channelIndex.Remove(channel)
	}
}

// sendChannel delivers content from ss to every member of channel, ss
// included: the members at the time of the registry read.
func (s *Service) sendChannel(ss *Session, channel string, content *string) error {
	var few [fewRecipients]*Session // most sends have few recipients: no allocation
	s.mu.RLock()
	ch, ok := s.channels[channel]
	if !ok {
		s.mu.RUnlock()
		return rsrt.NewError("channel %q does not exist", channel)
	}
	if _, ok := ch.members[ss]; !ok {
		s.mu.RUnlock()
		return rsrt.NewError("you have not joined channel %q", channel)
	}
	members := recipients(few[:0], ch.members)
	s.mu.RUnlock()
	from := ss.userName()
	d := newDelivery(from, content, channel)
	s.fanOut('c', channel, members, d, func() { s.hub.PublishChannel(channel, from, content) })
	return nil
}

// sendPrivate delivers content from ss to every session of user, on
// every node.
func (s *Service) sendPrivate(ctx context.Context, ss *Session, user string, content *string) error {
	var few [fewRecipients]*Session // most sends have few recipients: no allocation
	s.mu.RLock()
	members := recipients(few[:0], s.users[user])
	s.mu.RUnlock()
	if len(members) == 0 && !s.hub.UserOnline(ctx, user) {
		return rsrt.NewError("user %q is not logged in", user)
	}
	from := ss.userName()
	d := newDelivery(from, content, "")
	s.fanOut('u', user, members, d, func() { s.hub.PublishPrivate(user, from, content) })
	return nil
}

// DeliverChannel delivers a message that a session of another node sent
// to channel to this node's members of it (the hub calls it). A channel
// with no member here drops it.
func (s *Service) DeliverChannel(channel, from string, content *string) {
	var few [fewRecipients]*Session // most sends have few recipients: no allocation
	s.mu.RLock()
	var members []*Session
	if ch := s.channels[channel]; ch != nil {
		members = recipients(few[:0], ch.members)
	}
	s.mu.RUnlock()
	if len(members) == 0 {
		return // every node gets every message; most have no member here
	}
	d := newDelivery(from, content, channel)
	s.fanOut('c', channel, members, d, nil)
}

// DeliverPrivate delivers a private message that a session of another
// node sent to user to this node's sessions of that user (the hub calls
// it).
func (s *Service) DeliverPrivate(user, from string, content *string) {
	var few [fewRecipients]*Session // most sends have few recipients: no allocation
	s.mu.RLock()
	members := recipients(few[:0], s.users[user])
	s.mu.RUnlock()
	if len(members) == 0 {
		return
	}
	d := newDelivery(from, content, "")
	s.fanOut('u', user, members, d, nil)
}

// fewRecipients is how many recipients a send holds on its stack.
const fewRecipients = 8

// recipients appends the members of a recipient set to members, so that
// the pushes can run after the registry lock is released.
func recipients(members []*Session, set map[*Session]struct{}) []*Session {
	for m := range set {
		members = append(members, m)
	}
	return members
}

// fanOut pushes d to members under the fan-out lock of the channel or
// user (kind 'c' or 'u', so that a channel and a user of the same name do
// not have to share a lock): two messages to one channel reach all their
// common recipients in the same order. Pushes never block, so the lock is
// held for a bounded time. A member that left or closed meanwhile gets the
// message or, closed, ignores it. relay, when not nil, hands the message
// to the hub under the same lock, so that the other nodes' recipients get
// this node's messages in the order its own got them.
func (s *Service) fanOut(kind byte, name string, members []*Session, d *delivery, relay func()) {
	var h maphash.Hash
	h.SetSeed(s.fanoutSeed)
	_ = h.WriteByte(kind)
	_, _ = h.WriteString(name)
	mu := &s.fanout[h.Sum64()%fanoutStripes]
	mu.Lock()
	defer mu.Unlock()
	for _, m := range members {
		if m.queue.push(d) {
			s.enqueued.Add(1)
		}
	}
	if relay != nil {
		relay()
	}
}

// channelState is one channel's members, and the distinct user names among
// them that the channel.users streams walk.
type channelState struct {
	members   map[*Session]struct{}
	users     map[string]int // members by user name
	userNames nameset.Set    // the keys of users
}

// channelAfter returns the smallest channel name greater than prev, and
// whether there is one: the channels stream's next item.
func (s *Service) channelAfter(prev string) (string, bool) {
	return s.hub.ChannelAfter(prev)
}

// channelUserAfter returns the smallest user name among the members of
// channel greater than prev, and whether there is one: the channel.users
// stream's next item. A channel that does not exist (any more) has none.
func (s *Service) channelUserAfter(channel, prev string) (string, bool) {
	return s.hub.ChannelUserAfter(channel, prev)
}

// localChannelUserAfter is channelUserAfter among this node's sessions.
func (s *Service) localChannelUserAfter(channel, prev string) (string, bool) {
	s.mu.RLock()
	ch := s.channels[channel]
	s.mu.RUnlock()
	if ch == nil {
		return "", false
	}
	return ch.userNames.After(prev)
}

// channelNames returns the channels' names, sorted.
func (s *Service) channelNames() []string { return s.channelIndex.List() }

// channelUsers returns the distinct user names of channel's members,
// sorted; nil for an unknown channel.
func (s *Service) channelUsers(channel string) []string {
	s.mu.RLock()
	ch := s.channels[channel]
	s.mu.RUnlock()
	if ch == nil {
		return nil
	}
	return ch.userNames.List()
}

// remove takes ss out of every channel and of the user count.
func (s *Service) remove(ss *Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss.closed = true
	for ch := range ss.joined {
		s.leaveLocked(ss, ch)
	}
	if user := ss.userName(); user != "" {
		if set := s.users[user]; set != nil {
			delete(set, ss)
			if len(set) == 0 {
				delete(s.users, user)
			}
			s.hub.SetUser(user, len(set))
		}
	}
	delete(s.sessions, ss)
}
