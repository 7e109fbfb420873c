package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

// pool is a root pool trusting only ca.
func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// serverCert issues a certificate for 127.0.0.1 and localhost.
func (ca *testCA) serverCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "rsgen test server"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestTLS: a server with a TLS configuration serves TCP over TLS and
// WebSocket as wss://; a client trusting its CA talks to it on both; a
// client trusting another CA, or not speaking TLS, gets a clear error from
// Dial, and the server goes on serving.
func TestTLS(t *testing.T) {
	ca := newCA(t, "rsgen test CA")
	run := start(t, newResponder(), server.Config{
		TLS: &tls.Config{Certificates: []tls.Certificate{ca.serverCert(t)}, MinVersion: tls.VersionTLS12},
	})
	tcpAddr, wssURL := run.tcp(), "wss://"+run.srv.WSAddr().String()+"/"
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	trusting := &tls.Config{RootCAs: ca.pool(), MinVersion: tls.VersionTLS12}
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

	other := &tls.Config{RootCAs: newCA(t, "another CA").pool(), MinVersion: tls.VersionTLS12}
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
