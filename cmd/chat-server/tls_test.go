package main

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/internal/syncbuf"
	"github.com/rsocket-chat/rsgen/internal/testcert"
)

// writeCert writes a server certificate for 127.0.0.1, issued by a CA
// made for the test, and its key as PEM files, and returns their paths
// and the CA.
func writeCert(t *testing.T) (certFile, keyFile string, ca *testcert.CA) {
	t.Helper()
	ca = testcert.NewCA(t, "chat-server test CA")
	certPEM, keyPEM := testcert.PEM(t, ca.ServerCert(t))
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, ca
}

// TestTLSFlags: with --tls-cert and --tls-key, the server prints a wss://
// URL, and a client that trusts the certificate logs in over TCP and
// WebSocket.
func TestTLSFlags(t *testing.T) {
	certFile, keyFile, ca := writeCert(t)
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
	loginEach(t, ctx, []string{tcp, ws}, rsrt.WithTLS(&tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}))
	stopRun(t, cancel, done)

	// A key that does not match is an error at start.
	otherCert, _, _ := writeCert(t)
	err := run(context.Background(), []string{"--tcp-addr=127.0.0.1:0", "--ws-addr=", "--tls-cert", otherCert, "--tls-key", keyFile},
		env(map[string]string{"CHAT_DATA_DIR": t.TempDir()}), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--tls-cert/--tls-key") {
		t.Errorf("mismatched key: %v", err)
	}
}
