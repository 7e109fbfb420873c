package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
	"github.com/rsocket-chat/rsgen/internal/testcert"
)

// TestTLS: a server with a TLS configuration serves TCP over TLS and
// WebSocket as wss://; a client trusting its CA talks to it on both; a
// client trusting another CA, or not speaking TLS, gets a clear error from
// Dial, and the server goes on serving, counting its traffic.
func TestTLS(t *testing.T) {
	ca := testcert.NewCA(t, "rsgen test CA")
	run := start(t, newResponder(), server.Config{
		TLS: &tls.Config{Certificates: []tls.Certificate{ca.ServerCert(t)}, MinVersion: tls.VersionTLS12},
	})
	tcpAddr, wssURL := run.tcp(), "wss://"+run.srv.WSAddr().String()+"/"
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	trusting := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	check := func(addr string) {
		t.Helper()
		c, err := rsrt.Dial(ctx, addr, rsrt.WithTLS(trusting), rsrt.WithDialLogger(testLogger()))
		if err != nil {
			t.Fatalf("Dial %s: %v", addr, err)
		}
		defer c.Close()
		p, err := c.Caller().RequestResponse(ctx, routeEcho, rsrt.Payload{Data: []byte("secret")})
		if err != nil || string(p.Data) != "echo:secret" {
			t.Fatalf("%s: %q, %v", addr, p.Data, err)
		}
	}
	check(tcpAddr)
	check(wssURL)
	check("tcp://" + tcpAddr)

	other := &tls.Config{RootCAs: testcert.NewCA(t, "another CA").Pool(), MinVersion: tls.VersionTLS12}
	for _, addr := range []string{tcpAddr, wssURL} {
		c, err := rsrt.Dial(ctx, addr, rsrt.WithTLS(other), rsrt.WithDialLogger(testLogger()))
		if err == nil {
			c.Close()
			t.Fatalf("Dial %s trusting another CA: no error", addr)
		}
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Errorf("Dial %s trusting another CA: %v (%T), want x509.UnknownAuthorityError", addr, err, err)
		}
	}
	// A plain client: the server's handshake fails on its SETUP, and
	// closes the connection, which is Dial's error.
	if c, err := rsrt.Dial(ctx, tcpAddr, rsrt.WithDialLogger(testLogger())); err == nil {
		c.Close()
		t.Error("a plain TCP client connected to the TLS listener")
	}
	if c, err := rsrt.Dial(ctx, "ws://"+run.srv.WSAddr().String()+"/", rsrt.WithDialLogger(testLogger())); err == nil {
		c.Close()
		t.Error("a ws:// client connected to the wss:// listener")
	}
	check(tcpAddr) // still serving

	// Through TLS, whose connections have no raw socket, writes wait for
	// the socket and are counted there: each of the four clients that
	// got an answer sent its SETUP and a request and read the answer.
	deadline := time.Now().Add(testTimeout)
	for {
		st := run.srv.Stats()
		if st.FramesReceived >= 4*2 && st.FramesSent >= 4 && st.Writes >= 4 && st.BytesSent >= 4*int64(len("echo:secret")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server counted %+v for four clients of one request each", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	_, err := server.New(newResponder().acceptor(), server.Config{TCPAddr: "127.0.0.1:0", TLS: &tls.Config{}})
	if err == nil || !strings.Contains(err.Error(), "without a certificate") {
		t.Errorf("TLS config without a certificate: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	_, err = rsrt.Dial(ctx, "ws://127.0.0.1:1/", rsrt.WithTLS(&tls.Config{}))
	if err == nil || !strings.Contains(err.Error(), "use a wss:// address") {
		t.Errorf("WithTLS on ws://: %v", err)
	}
}
