package server

import (
	"crypto/tls"
	"errors"
	"net"
)

// secure wraps a listener in TLS when the server has a TLS configuration.
// The handshake happens on the connection's first read, inside the
// checking transport's SETUP deadline (guard.Limits.SetupTimeout), so a
// peer that never completes it is dropped like one that never sends
// SETUP. For WebSocket the HTTP server then reads its upgrade request
// over TLS: the endpoint is wss://.
func (s *Server) secure(l net.Listener) net.Listener {
	if s.cfg.TLS == nil {
		return l
	}
	return tls.NewListener(l, s.cfg.TLS)
}

// checkTLS refuses a configuration without a certificate, which would
// fail every handshake instead of failing here.
func checkTLS(cfg *tls.Config) error {
	if cfg != nil && len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
		return errors.New("server: TLS configuration without a certificate (Certificates, GetCertificate or GetConfigForClient)")
	}
	return nil
}
