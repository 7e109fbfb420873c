package chatsvc

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	rsrt "github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/filestore"
)

var _ chat.Server = (*Session)(nil)

// Session is the chat server of one connection. Its methods are thin
// adapters from the generated chat.Server interface to the Service.
type Session struct {
	svc    *Service
	ctx    context.Context // the connection's; done when it closes
	remote string
	timeFn func(context.Context) (string, error)
	queue  *queue
	// authUser is the user the connection authenticated as, the only
	// name it may log in with; "" when the server has no authentication.
	authUser string

	// user is the login name, set once (under svc.mu, which checks it is
	// unset) and then read without the lock by every request.
	user atomic.Pointer[string]

	// id is set once, at login, under svc.mu, before user; read
	// without the lock once user is set.
	id string

	// Guarded by svc.mu.
	joined map[string]struct{}
	closed bool

	// reports counts the session's statistics reports.
	reports atomic.Uint64

	// uploadBytes is what the connection's uploads being stored hold of
	// the upload memory budget.
	uploadBytes atomic.Int64

	// inc is the current messages.incoming stream, which the queue
	// wakes; incOpened counts the streams opened.
	inc       atomic.Pointer[rsrt.Feeder]
	incOpened atomic.Uint64
}

// userName returns the login name, "" before login.
func (s *Session) userName() string {
	if p := s.user.Load(); p != nil {
		return *p
	}
	return ""
}

// logger returns the session's logger: the service's, with the peer's
// address, and the user and session id once logged in. It is made for
// each line and not kept: a session logs a few lines in its life (its
// login and its end, mostly), and a logger kept per session cost a
// server about a third of a KiB a session.
func (s *Session) logger() *slog.Logger {
	user := s.user.Load()
	if user == nil {
		return s.svc.log.With("remote", s.remote)
	}
	// id is set before user is stored, and not changed after.
	return s.svc.log.With("remote", s.remote, "user", *user, "session", s.id)
}

// close ends the session when its connection closes.
func (s *Session) close() {
	s.svc.remove(s)
	s.queue.close()
	if f := s.inc.Load(); f != nil {
		f.End(nil)
	}
	_, _, dropped := s.queue.stats()
	s.logger().Info("session ended", "dropped_messages", dropped)
}

// onDrop counts messages dropped from the session's full queue. It logs
// the first drop and then every 1024th, not every one, so that a flood
// cannot flood the log too.
func (s *Session) onDrop(n int) {
	total := s.svc.dropped.Add(uint64(n))
	_, _, mine := s.queue.stats()
	if mine == uint64(n) || mine/1024 != (mine-uint64(n))/1024 {
		s.logger().Warn("slow reader: dropping oldest queued messages",
			"dropped_session", mine, "dropped_total", total)
	}
}

// RequireLogin is the interceptor that refuses every request of a
// connection that has not logged in, login itself excepted, with an
// APPLICATION_ERROR that names the route and says to log in first. It
// guards the methods of Session, which assume a logged-in user: install it
// on the acceptor (rsrt.WithInterceptors), as chatserver does.
var RequireLogin = rsrt.BeforeCall(requireLogin)

func requireLogin(ctx context.Context, call *rsrt.Call) (context.Context, error) {
	s, ok := call.Handler.(*Session)
	if !ok || call.Requester || call.Route == chat.RouteLogin {
		return ctx, nil
	}
	if s.userName() == "" {
		return nil, rsrt.NewError("%s: log in first (route login)", call.Route)
	}
	return ctx, nil
}

// Login logs the connection in. A connection logs in once: a second login
// is answered with an APPLICATION_ERROR and changes nothing. Several
// connections may log in with the same user name.
func (s *Session) Login(ctx context.Context, user string) (string, error) {
	user, err := checkName("user name", user)
	if err != nil {
		return "", err
	}
	if s.authUser != "" && user != s.authUser {
		return "", rsrt.NewError("login: this connection authenticated as %s and can log in only as %s", s.authUser, s.authUser)
	}
	id, err := s.svc.login(s, user)
	if err != nil {
		return "", err
	}
	s.svc.hub.Sync(ctx) // the other nodes see the user online once answered
	s.logger().Info("login")
	if s.timeFn != nil {
		go s.callTime()
	}
	return id, nil
}

// callTime asks the client for its time, as the tutorial's server does,
// and logs the answer; a failure is logged and changes nothing else.
func (s *Session) callTime() {
	ctx, cancel := context.WithTimeout(s.ctx, s.svc.cfg.TimeCallTimeout)
	defer cancel()
	t, err := s.timeFn(ctx)
	if err != nil {
		s.logger().Warn("time call to the client failed", "err", err)
		return
	}
	s.logger().Info("client time", "time", t)
}

// ChannelJoin joins a channel, creating it if new.
func (s *Session) ChannelJoin(ctx context.Context, channel string) error {
	channel, err := checkName("channel name", channel)
	if err != nil {
		return err
	}
	if err := s.svc.join(s, channel); err != nil {
		return err
	}
	s.svc.hub.Sync(ctx) // the other nodes list the member once answered
	return nil
}

// ChannelLeave leaves a channel; leaving a channel one has not joined is
// not an error.
func (s *Session) ChannelLeave(ctx context.Context, channel string) error {
	channel, err := checkName("channel name", channel)
	if err != nil {
		return err
	}
	s.svc.leave(s, channel)
	s.svc.hub.Sync(ctx)
	return nil
}

// Message sends a channel message (Channel set; the sender must have
// joined) or a private message (User set, Channel absent; the user must be
// logged in). Recipients see the sender's login name as User.
func (s *Session) Message(ctx context.Context, m chat.Message) error {
	// The schema caps content at 64 KiB, user and channel at 64 bytes
	// without control characters; this is the operator's lower limit,
	// and checkName adds what a schema cannot say (NFC, invisible
	// characters).
	if m.Content != nil && len(*m.Content) > s.svc.cfg.MaxContentBytes {
		return rsrt.NewError("message content is %d bytes long, the limit is %d", len(*m.Content), s.svc.cfg.MaxContentBytes)
	}
	switch {
	case m.Channel != nil:
		channel, err := checkName("channel name", *m.Channel)
		if err != nil {
			return err
		}
		return s.svc.sendChannel(s, channel, m.Content)
	case m.User != nil:
		user, err := checkName("user name", *m.User)
		if err != nil {
			return err
		}
		return s.svc.sendPrivate(ctx, s, user, m.Content)
	default:
		return rsrt.NewError("message has neither user nor channel")
	}
}

// MessagesIncoming streams the session's queued and future messages until
// the client cancels. A second stream on the same connection replaces the
// first, which completes (see the package documentation). The stream is
// fed from the queue (rsrt.Sender.Feed): a subscriber waiting for messages
// holds no goroutine.
func (s *Session) MessagesIncoming(_ context.Context, out *rsrt.Sender[chat.Message]) error {
	in := &incoming{s: s}
	in.f = out.Feed(in)
	s.svc.incomingStreams.Add(1)
	old := s.inc.Swap(in.f)
	s.incOpened.Add(1)
	if old != nil {
		old.End(nil) // the newest stream wins
	}
	return in.f.Serve()
}

// wakeIncoming tells the session's stream that its queue has messages.
func (s *Session) wakeIncoming() {
	if f := s.inc.Load(); f != nil {
		f.Wake()
	}
}

// incoming is one messages.incoming stream: the rsrt.Source that feeds it
// from the session's queue.
type incoming struct {
	s    *Session
	f    *rsrt.Feeder
	last *delivery // what Next returned last
}

// Next implements rsrt.Source.
func (in *incoming) Next() (*rsrt.Shared[chat.Message], bool) {
	d, ok := in.s.queue.pop()
	if !ok {
		return nil, false
	}
	in.last = d
	in.s.svc.delivered.Add(1)
	return &d.msg, true
}

// Unsent implements rsrt.Source: the message is put back at the head of
// the queue, for the next stream.
func (in *incoming) Unsent(m *rsrt.Shared[chat.Message]) {
	if d := in.last; d != nil && &d.msg == m {
		in.last = nil
		in.s.svc.delivered.Add(^uint64(0)) // not delivered after all
		in.s.queue.unpop(d)
	}
}

// Ended implements rsrt.Source. However the stream ended (cancelled,
// replaced, its connection closed), the queue stays, for the next one.
func (in *incoming) Ended(error) {
	in.s.svc.incomingStreams.Add(-1)
	in.s.inc.CompareAndSwap(in.f, nil)
}

// Channels streams the channel names, sorted. Like every stream of names
// it walks the shared index item by item and holds no copy of the list
// (see sendEach).
func (s *Session) Channels(ctx context.Context, out *rsrt.Sender[string]) error {
	s.svc.hub.Sync(ctx)
	return sendEach(s.svc.channelAfter, out.Send)
}

// ChannelUsers streams the distinct user names of a channel's members,
// sorted; an unknown channel completes empty.
func (s *Session) ChannelUsers(ctx context.Context, channel string, out *rsrt.Sender[string]) error {
	channel, err := checkName("channel name", channel)
	if err != nil {
		return err
	}
	s.svc.hub.Sync(ctx)
	return sendEach(func(prev string) (string, bool) { return s.svc.channelUserAfter(channel, prev) }, out.Send)
}

// sendEach sends, in order, each name that after gives: after("") is the
// first, after(name) the one following name. Between two items the stream
// holds only the last name it sent, never a copy of the list, however
// long its client takes to ask for the next; it sends every name present
// throughout the stream once, and a name added or removed meanwhile may or
// may not be sent.
func sendEach(after func(prev string) (string, bool), send func(string) error) error {
	prev := ""
	for {
		name, ok := after(prev)
		if !ok {
			return nil
		}
		if err := send(name); err != nil {
			return err
		}
		prev = name
	}
}

func sendAll(items []string, send func(string) error) error {
	for _, it := range items {
		if err := send(it); err != nil {
			return err
		}
	}
	return nil
}

// FileUpload stores a file under its name (a key, never a path).
//
// The payload counts against the server-wide upload memory budget
// (Config.UploadMemoryBytes) until the store has written it; the store
// writes uploads in parallel, so each one is dropped as soon as its own
// file is on disk. When the budget is exhausted the upload is refused at
// once, so that its payload is dropped too.
func (s *Session) FileUpload(_ context.Context, data []byte, name string) error {
	fs, err := s.files()
	if err != nil {
		return err
	}
	name, err = filestore.NormalizeName(name)
	if err != nil {
		return s.fileError("upload", name, err)
	}
	if err := fs.Limits().CheckSize(int64(len(data))); err != nil {
		return s.fileError("upload", name, err)
	}
	n := int64(len(data))
	if err := s.holdUpload(n); err != nil {
		s.logger().Debug("upload refused: upload memory budget exhausted", "file", name, "bytes", n, "err", err)
		return err
	}
	defer s.releaseUpload(n)
	if err := fs.Put(name, data); err != nil {
		return s.fileError("upload", name, err)
	}
	s.logger().Info("file uploaded", "file", name, "bytes", len(data))
	return nil
}

// holdUpload takes n bytes of the upload memory budget for an upload of
// this connection: first of the connection's share, then of the
// server-wide budget. When either is exhausted it takes nothing and
// returns the error the client gets.
func (s *Session) holdUpload(n int64) error {
	share := s.svc.uploadShare
	if mine := s.uploadBytes.Add(n); mine > share {
		s.uploadBytes.Add(-n)
		s.svc.uploadsBusy.Add(1)
		return rsrt.NewError("server busy: this connection's uploads being stored hold %d bytes, a connection's share is %d; try again later",
			mine-n, share)
	}
	if ok, held := s.svc.holdUpload(n); !ok {
		s.uploadBytes.Add(-n)
		return rsrt.NewError("server busy: uploads being stored hold %d bytes, the limit is %d; try again later",
			held, s.svc.cfg.UploadMemoryBytes)
	}
	return nil
}

// releaseUpload gives back what holdUpload took.
func (s *Session) releaseUpload(n int64) {
	s.svc.releaseUpload(n)
	s.uploadBytes.Add(-n)
}

// FileDownload returns a stored file and its name.
//
// It reserves the response's size in the connection's response budget
// before reading the file: a client that asks for files without reading
// them then makes its downloads wait here, with nothing read, instead of
// each holding a file in memory until the write timeout cuts it off.
func (s *Session) FileDownload(ctx context.Context, name string) (chat.FileDownloadResponse, error) {
	fs, err := s.files()
	if err != nil {
		return chat.FileDownloadResponse{}, err
	}
	// The name the file is stored under, which the response carries.
	name, err = filestore.NormalizeName(name)
	if err != nil {
		return chat.FileDownloadResponse{}, s.fileError("download", name, err)
	}
	if size, ok := fs.Size(name); ok {
		// The file-name metadata entry: the name, its MIME type and the
		// composite-metadata headers.
		md := int64(len(name) + len(chat.MIMEFileName) + 8)
		if err := rsrt.ReserveResponse(ctx, size+md); err != nil {
			return chat.FileDownloadResponse{}, err
		}
	}
	b, err := fs.Get(name)
	if err != nil {
		return chat.FileDownloadResponse{}, s.fileError("download", name, err)
	}
	return chat.FileDownloadResponse{Data: b, FileName: name}, nil
}

// Files streams the stored file names, sorted.
func (s *Session) Files(_ context.Context, out *rsrt.Sender[string]) error {
	fs, err := s.files()
	if err != nil {
		return err
	}
	return sendEach(fs.After, out.Send)
}

func (s *Session) files() (Files, error) {
	if s.svc.cfg.Files == nil {
		return nil, rsrt.NewError("file storage is not available on this server")
	}
	return s.svc.cfg.Files, nil
}

// fileError turns a store error into the text a chat user reads. The
// store's own errors are written for that; any other (an I/O error) is
// logged here and reported without internal detail such as paths.
func (s *Session) fileError(op, name string, err error) error {
	switch {
	case errors.Is(err, filestore.ErrNotFound),
		errors.Is(err, filestore.ErrBadName),
		errors.Is(err, filestore.ErrTooLarge),
		errors.Is(err, filestore.ErrStoreFull),
		errors.Is(err, filestore.ErrTooManyFiles):
		return rsrt.NewError("%v", err)
	}
	s.logger().Error("file store failure", "op", op, "file", name, "err", err)
	return rsrt.NewError("%s %q: file storage error on the server", op, name)
}

// SendStatistics records a client's statistics report. A session's first
// report is logged at info level, later ones at debug level, so that a
// client reporting often cannot flood the log.
func (s *Session) SendStatistics(_ context.Context, st chat.ClientStatistics) error {
	s.svc.clientReports.Add(1)
	var mem any
	if st.MemoryUsage != nil {
		mem = *st.MemoryUsage
	}
	level := slog.LevelDebug
	if s.reports.Add(1) == 1 {
		level = slog.LevelInfo
	}
	s.logger().Log(context.Background(), level, "client statistics", "memory_usage", mem)
	return nil
}

// Statistics reports the server statistics every period with the counts
// requested, applying the client's updates as they arrive.
func (s *Session) Statistics(ctx context.Context, in *rsrt.Inbound[chat.ServerStatisticsRequest], out *rsrt.Sender[chat.ServerStatistics]) error {
	return s.serveStatistics(ctx, in.Recv, out.Send)
}
