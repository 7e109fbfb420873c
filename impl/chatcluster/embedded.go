package chatcluster

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedConfig configures a NATS server run inside the chat-server
// process (chat-server --nats embedded), so that a few chat-server
// processes form a cluster with nothing else installed.
type EmbeddedConfig struct {
	// Name is the server's name, unique in the NATS cluster and stable
	// across restarts (JetStream knows its peers by it); default the host
	// name and the client port, or a random name when the port is picked.
	Name string
	// Host is the address the client and cluster ports listen on
	// (default "127.0.0.1"; "0.0.0.0" for other machines).
	Host string
	// Port is the client port (default 4222; -1 picks a free one).
	Port int
	// ClusterName names the NATS cluster (default "chat"); every server
	// of a cluster uses the same.
	ClusterName string
	// ClusterPort is the port the other NATS servers route to; 0 runs a
	// single NATS server with no cluster (-1 picks a free port).
	ClusterPort int
	// Routes are the other servers' cluster URLs
	// (nats://host:clusterport).
	Routes []string
	// StoreDir is the JetStream directory, where membership and files
	// persist; required.
	StoreDir string
	// ReadyTimeout bounds the wait for the server to accept connections
	// (default 10s).
	ReadyTimeout time.Duration
}

// Embedded is a running embedded NATS server.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts a NATS server with JetStream in this process and
// returns once it accepts client connections.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("chatcluster: an embedded NATS server needs a JetStream directory (--nats-store)")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Port == 0 {
		cfg.Port = 4222
	}
	if cfg.ClusterName == "" {
		cfg.ClusterName = "chat"
	}
	if cfg.Name == "" {
		host, _ := os.Hostname()
		cfg.Name = fmt.Sprintf("chat-%s-%d", host, cfg.Port)
		if cfg.Port < 0 {
			cfg.Name = "chat-" + newID()
		}
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	opts := &server.Options{
		ServerName: cfg.Name,
		Host:       cfg.Host,
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		NoLog:      true,
	}
	if cfg.ClusterPort != 0 {
		opts.Cluster = server.ClusterOpts{Name: cfg.ClusterName, Host: cfg.Host, Port: cfg.ClusterPort}
		for _, r := range cfg.Routes {
			if r = strings.TrimSpace(r); r == "" {
				continue
			}
			u, err := url.Parse(r)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("chatcluster: bad NATS route %q: want nats://host:port", r)
			}
			opts.Routes = append(opts.Routes, u)
		}
	} else if len(cfg.Routes) > 0 {
		return nil, errors.New("chatcluster: NATS routes need a cluster port (--nats-cluster-port)")
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("chatcluster: embedded NATS server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(cfg.ReadyTimeout) {
		srv.Shutdown()
		return nil, fmt.Errorf("chatcluster: embedded NATS server not ready after %v", cfg.ReadyTimeout)
	}
	return &Embedded{srv: srv}, nil
}

// ClientURL returns the URL chat nodes connect to (nats://127.0.0.1:4222).
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// ClusterURL returns the URL other NATS servers route to, or "" when the
// server runs no cluster port.
func (e *Embedded) ClusterURL() string {
	a := e.srv.ClusterAddr()
	if a == nil {
		return ""
	}
	return "nats://" + a.String()
}

// Shutdown stops the server and waits until it has stopped.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
