package rsock

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/core/transport"
	"github.com/rsocket/rsocket-go/payload"
)

// ClientConfig is what opening a client connection takes.
type ClientConfig struct {
	// Network is "tcp" (Target is host:port) or "ws" (Target is a
	// ws:// or wss:// URL).
	Network, Target string
	// The SETUP frame's fields.
	DataMIME, MetadataMIME   string
	SetupData, SetupMetadata []byte
	Keepalive, MaxLifetime   time.Duration
	// FragmentSize is the size outbound payloads are fragmented at.
	FragmentSize int
	// Tap is put in the connection's write path (see Tap).
	Tap *Tap
	// OnClose is called once the connection has closed, with the
	// reason the peer gave, if any.
	OnClose func(error)
	// Responder, when set, returns the handler of the server's requests.
	Responder func() rsocket.RSocket
	// TLS, when set, secures a tcp connection, and configures a wss://
	// one (which is secured in any case, with the defaults when nil).
	TLS *tls.Config
}

// Dial opens a client connection. dialCtx bounds connecting; ctx bounds the
// connection's life: the library closes a client when the context given to
// its Start ends, so a caller that wants the connection to outlive the
// dial passes a context of its own here.
func Dial(dialCtx, ctx context.Context, cfg ClientConfig) (rsocket.Client, error) {
	transporter := func(context.Context) (*transport.Transport, error) {
		var c transport.Conn
		switch cfg.Network {
		case "ws":
			d := *websocket.DefaultDialer
			d.TLSClientConfig = cfg.TLS
			wc, _, err := d.DialContext(dialCtx, cfg.Target, nil)
			if err != nil {
				return nil, err
			}
			c = transport.NewWebsocketConnection(wc)
		default:
			var nc net.Conn
			var err error
			if cfg.TLS != nil {
				// The handshake completes here, so a certificate the
				// client refuses is the dial's error.
				nc, err = (&tls.Dialer{Config: cfg.TLS}).DialContext(dialCtx, "tcp", cfg.Target)
			} else {
				nc, err = (&net.Dialer{}).DialContext(dialCtx, "tcp", cfg.Target)
			}
			if err != nil {
				return nil, err
			}
			c = transport.NewTCPConn(nc)
		}
		return transport.NewTransport(cfg.Tap.Wrap(c)), nil
	}
	b := rsocket.Connect().
		MetadataMimeType(cfg.MetadataMIME).
		DataMimeType(cfg.DataMIME).
		KeepAlive(cfg.Keepalive, cfg.MaxLifetime, 1).
		Fragment(cfg.FragmentSize).
		SetupPayload(payload.New(cfg.SetupData, cfg.SetupMetadata)).
		OnClose(cfg.OnClose)
	var starter rsocket.ToClientStarter = b
	if cfg.Responder != nil {
		starter = b.Acceptor(func(context.Context, rsocket.RSocket) rsocket.RSocket { return cfg.Responder() })
	}
	return starter.Transport(transporter).Start(ctx)
}
