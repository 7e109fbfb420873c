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
	// Tap is put in the connection's read and write paths (see Tap).
	Tap *Tap
	// OnClose is called once the connection has closed, with the
	// reason the peer gave, if any.
	OnClose func(error)
	// Responder, when set, returns the handler of the server's requests.
	Responder func() Responder
	// TLS, when set, secures a tcp connection, and configures a wss://
	// one (which is secured in any case, with the defaults when nil).
	TLS *tls.Config
}

// Client is an open client connection: its requesting side (Conn) and
// its fence.
type Client struct {
	Conn
	client rsocket.Client
}

// Close shuts the fence (later calls skip; those in progress are waited
// for, boundedly: one stuck on a full send queue, a peer that stopped
// reading, must not make Close hang), then closes the connection.
func (c *Client) Close() error {
	c.fence.Close()
	return protect(func() { _ = c.client.Close() })
}

// Shut shuts the fence as Close does, without closing the connection yet:
// for a caller with something to do between the two (Close, called next,
// finds the fence shut).
func (c *Client) Shut() { c.fence.Close() }

// Dial opens a client connection. dialCtx bounds connecting; ctx bounds the
// connection's life: the library closes a client when the context given to
// its Start ends, so a caller that wants the connection to outlive the
// dial passes a context of its own here (entry "The client connection
// outlives the dial's context").
func Dial(dialCtx, ctx context.Context, cfg ClientConfig) (*Client, error) {
	tap := cfg.Tap
	c := &Client{Conn: Conn{fence: new(Fence), tap: tap}}
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
		return transport.NewTransport(tap.Wrap(c)), nil
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
		// The responder's calls into the library go through the
		// connection's fence, like the requester's.
		starter = b.Acceptor(func(context.Context, rsocket.RSocket) rsocket.RSocket {
			return &responder{r: cfg.Responder(), fence: c.fence}
		})
	}
	var err error
	if perr := protect(func() { c.client, err = starter.Transport(transporter).Start(ctx) }); perr != nil {
		err = perr
	}
	if err != nil {
		return nil, err
	}
	c.rs = c.client
	return c, nil
}
