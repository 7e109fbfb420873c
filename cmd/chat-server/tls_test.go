package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/internal/syncbuf"
)

// writeCert writes a self-signed ECDSA certificate for 127.0.0.1 and its
// key as PEM files, and returns their paths and the certificate.
func writeCert(t *testing.T) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "chat-server test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// TestTLSFlags: with --tls-cert and --tls-key, the server prints a wss://
// URL, and a client that trusts the certificate logs in over TCP and
// WebSocket.
func TestTLSFlags(t *testing.T) {
	certFile, keyFile, cert := writeCert(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--tcp-addr=127.0.0.1:0", "--ws-addr=127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile},
			env(map[string]string{"CHAT_DATA_DIR": t.TempDir()}), &stdout, &stderr)
	}()
	tcp, ws := addrs(t, &stdout)
	if !strings.HasPrefix(ws, "wss://") {
		t.Errorf("WebSocket URL %q, want wss://", ws)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	for _, addr := range []string{tcp, ws} {
		dctx, dcancel := context.WithTimeout(ctx, wait)
		c, err := chat.Dial(dctx, addr, rsrt.WithTLS(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}))
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		if _, err := c.Login(dctx, "someone"); err != nil {
			t.Fatalf("login over %s: %v", addr, err)
		}
		_ = c.Close()
		dcancel()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("run did not return after cancel")
	}

	// A key that does not match is an error at start.
	otherCert, _, _ := writeCert(t)
	err := run(context.Background(), []string{"--tcp-addr=127.0.0.1:0", "--ws-addr=", "--tls-cert", otherCert, "--tls-key", keyFile},
		env(map[string]string{"CHAT_DATA_DIR": t.TempDir()}), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--tls-cert/--tls-key") {
		t.Errorf("mismatched key: %v", err)
	}
}
