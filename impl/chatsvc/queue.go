package chatsvc

import (
	"sync"
	"sync/atomic"

	rsrt "github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
)

// delivery is one message waiting in a session's queue. The Message's
// string pointers are shared by every recipient of a channel message: they
// are never written after the message is built, so sharing is safe and a
// channel message costs its content once, however many members queue it.
type delivery struct {
	// msg is encoded once, by the first stream that sends it, for all
	// the recipients of a fan-out.
	msg  rsrt.Shared[chat.Message]
	size int // approximate bytes held: the message's strings
	// What msg's User and Channel point to: a message is one
	// allocation.
	from, channel string
}

// newDelivery returns the message from sent to channel, or to a user when
// channel is "" (no channel has an empty name).
func newDelivery(from string, content *string, channel string) *delivery {
	d := &delivery{from: from, channel: channel, size: len(from) + len(channel)}
	m := chat.Message{User: &d.from, Content: content}
	if channel != "" {
		m.Channel = &d.channel
	}
	if content != nil {
		d.size += len(*content)
	}
	d.msg.Set(m)
	return d
}

// message is the message delivered.
func (d *delivery) message() chat.Message { return d.msg.Value() }

// queueBudget bounds the bytes queued by every session of a service
// together. Each queue also has its own bounds; on top of them, while the
// total is over the budget, a queue that receives a message and holds more
// than its fair share (the budget divided by the number of queues) drops
// its oldest messages down to that share. A recipient that keeps reading
// has a short queue, under its share, and loses nothing; the ones that do
// not read pay. The total stays under about twice the budget: queues over
// their share grew only while the total was under the budget, and the
// others hold at most their share each.
type queueBudget struct {
	limit  int64
	used   atomic.Int64
	queues atomic.Int64
	// overShare counts the messages dropped because of the budget (a
	// queue over its share while the total is over the budget), not of
	// the queue's own bounds.
	overShare atomic.Uint64
}

// over reports whether the total is over the budget.
func (b *queueBudget) over() bool { return b.used.Load() > b.limit }

// share is the fair share of one queue.
func (b *queueBudget) share() int64 { return b.limit / max(1, b.queues.Load()) }

// queue is a session's bounded outbound message queue. push never blocks:
// when the queue is over its length or byte bound (or over its share of
// the service's queueBudget) it drops its oldest messages, so a recipient
// that does not read costs at most the bound and never slows the sender,
// the channel or any other recipient.
type queue struct {
	maxLen, maxBytes int
	onDrop           func(n int) // called outside the lock with the number dropped
	budget           *queueBudget

	mu      sync.Mutex
	items   []*delivery // oldest first
	bytes   int
	dropped uint64
	closed  bool
	// onPush, when set, is called outside the lock after each push and
	// unpop: the session's stream then takes what it has demand for.
	onPush func()
}

// newQueue returns a queue with its own bounds, counted against budget.
func newQueue(maxLen, maxBytes int, budget *queueBudget, onDrop func(int)) *queue {
	budget.queues.Add(1)
	return &queue{maxLen: maxLen, maxBytes: maxBytes, budget: budget, onDrop: onDrop}
}

// addBytesLocked changes the queue's byte count and the budget's.
func (q *queue) addBytesLocked(n int) {
	q.bytes += n
	q.budget.used.Add(int64(n))
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
	q.addBytesLocked(d.size)
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
	q.addBytesLocked(d.size)
	n := q.trimLocked()
	q.mu.Unlock()
	q.wake()
	if n > 0 && q.onDrop != nil {
		q.onDrop(n)
	}
}

// trimLocked drops the oldest messages while the queue is over a bound or,
// the service's queues being over their budget, over its share; it always
// keeps the newest one (a single message is bounded by the service's
// content limit).
func (q *queue) trimLocked() int {
	n := 0
	for len(q.items) > 1 {
		own := len(q.items) > q.maxLen || q.bytes > q.maxBytes
		if !own && !(q.budget.over() && int64(q.bytes) > q.budget.share()) {
			break
		}
		if !own {
			q.budget.overShare.Add(1)
		}
		q.addBytesLocked(-q.items[0].size)
		q.items[0] = nil
		q.items = q.items[1:]
		n++
	}
	q.dropped += uint64(n)
	return n
}

func (q *queue) wake() {
	if q.onPush != nil {
		q.onPush()
	}
}

// pop returns the oldest message, false when the queue is empty or
// closed.
func (q *queue) pop() (*delivery, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || len(q.items) == 0 {
		return nil, false
	}
	d := q.items[0]
	q.items[0] = nil
	switch {
	case len(q.items) > 1:
		q.items = q.items[1:]
	case cap(q.items) <= keepItems:
		// Emptied: the array is reused, for a reader that keeps up
		// queues its messages one at a time.
		q.items = q.items[:0]
	default:
		q.items = nil // let a large backing array go
	}
	q.addBytesLocked(-d.size)
	return d, true
}

// keepItems is the capacity up to which an emptied queue keeps its array.
const keepItems = 16

// close drops every queued message.
func (q *queue) close() {
	q.mu.Lock()
	if !q.closed {
		q.budget.queues.Add(-1)
	}
	q.closed = true
	q.addBytesLocked(-q.bytes)
	q.items = nil
	q.mu.Unlock()
}

// stats returns the queue's current length and bytes and its drop count.
func (q *queue) stats() (length, bytes int, dropped uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items), q.bytes, q.dropped
}
