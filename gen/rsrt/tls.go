package rsrt

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// WithTLS secures the connection with TLS, configured by cfg: over TCP
// (a host:port or tcp:// address) the handshake completes before the
// SETUP is sent, so a certificate the client refuses is Dial's error;
// for WebSocket, use a wss:// address, which is secured with cfg, or with
// Go's defaults (the system's roots) without this option. cfg.ServerName
// defaults to the address's host. A ws:// address with WithTLS is an
// error: the scheme says the connection is not secured.
func WithTLS(cfg *tls.Config) DialOption { return func(c *dialConfig) { c.tls = cfg } }

// checkTLS refuses WithTLS on a ws:// address, whose scheme promises a
// plain connection.
func checkTLS(target string, cfg *tls.Config) error {
	if cfg != nil && strings.HasPrefix(target, "ws://") {
		return fmt.Errorf("rsrt: WithTLS on %q: use a wss:// address for WebSocket over TLS", target)
	}
	return nil
}
