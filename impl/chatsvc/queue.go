package chatsvc

import (
	"context"
	"errors"
	"sync"

	"github.com/rsocket-chat/rsgen/generated/chat"
)

// errQueueClosed is returned by pop once the session is gone.
var errQueueClosed = errors.New("queue closed")

// delivery is one message waiting in a session's queue. The Message's
// string pointers are shared by every recipient of a channel message: they
// are never written after the message is built, so sharing is safe and a
// channel message costs its content once, however many members queue it.
type delivery struct {
	msg  chat.Message
	size int // approximate bytes held: the message's strings
}

func newDelivery(m chat.Message) *delivery {
	size := 0
	for _, p := range []*string{m.User, m.Content, m.Channel} {
		if p != nil {
			size += len(*p)
		}
	}
	return &delivery{msg: m, size: size}
}

// queue is a session's bounded outbound message queue. push never blocks:
// when the queue is over its length or byte bound it drops its oldest
// messages, so a recipient that does not read costs at most the bound and
// never slows the sender, the channel or any other recipient.
type queue struct {
	maxLen, maxBytes int
	onDrop           func(n int) // called outside the lock with the number dropped

	mu      sync.Mutex
	items   []*delivery // oldest first
	bytes   int
	dropped uint64
	closed  bool
	// notify has room for one token: a push leaves one so that a waiting
	// pop wakes up; pop re-checks items under the lock, so lost or stale
	// tokens are harmless.
	notify chan struct{}
}

func newQueue(maxLen, maxBytes int, onDrop func(int)) *queue {
	return &queue{maxLen: maxLen, maxBytes: maxBytes, onDrop: onDrop, notify: make(chan struct{}, 1)}
}

// push appends d, dropping the oldest messages while over a bound. It
// reports false, doing nothing, once the queue is closed.
func (q *queue) push(d *delivery) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, d)
	q.bytes += d.size
	n := q.trimLocked()
	q.mu.Unlock()
	q.wake()
	if n > 0 && q.onDrop != nil {
		q.onDrop(n)
	}
	return true
}

// unpop puts back at the head a message that pop returned but that could
// not be sent, so that it is not lost when a stream ends.
func (q *queue) unpop(d *delivery) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.items = append([]*delivery{d}, q.items...)
	q.bytes += d.size
	n := q.trimLocked()
	q.mu.Unlock()
	q.wake()
	if n > 0 && q.onDrop != nil {
		q.onDrop(n)
	}
}

// trimLocked drops the oldest messages while the queue is over a bound,
// always keeping the newest one (a single message is bounded by the
// service's content limit).
func (q *queue) trimLocked() int {
	n := 0
	for len(q.items) > 1 && (len(q.items) > q.maxLen || q.bytes > q.maxBytes) {
		q.bytes -= q.items[0].size
		q.items[0] = nil
		q.items = q.items[1:]
		n++
	}
	q.dropped += uint64(n)
	return n
}

func (q *queue) wake() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// pop returns the oldest message, waiting for one. It returns ctx's error
// when ctx ends first, and errQueueClosed once the queue is closed.
func (q *queue) pop(ctx context.Context) (*delivery, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, errQueueClosed
		}
		if len(q.items) > 0 {
			d := q.items[0]
			q.items[0] = nil
			q.items = q.items[1:]
			q.bytes -= d.size
			if len(q.items) == 0 {
				q.items = nil // let a large backing array go
			}
			q.mu.Unlock()
			return d, nil
		}
		q.mu.Unlock()
		select {
		case <-q.notify:
		case <-ctx.Done():
		}
	}
}

// close drops every queued message and wakes the waiting pop.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.items, q.bytes = nil, 0
	q.mu.Unlock()
	q.wake()
}

// stats returns the queue's current length and bytes and its drop count.
func (q *queue) stats() (length, bytes int, dropped uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items), q.bytes, q.dropped
}
