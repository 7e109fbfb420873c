// Package syncbuf provides Buffer, a bytes.Buffer that a writer and a
// reader on different goroutines may share: a test hands it to a command,
// a logger or a child process as its output and reads what has arrived
// while they run. It is imported by tests only (gen/rsrt/server, cmd/chat,
// cmd/chat-server), which is why it sits at the module's root: the
// generator's runtime and the commands can both reach it, and nothing
// outside the module can.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer safe for concurrent use. Its zero value is an
// empty buffer ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what has been written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
