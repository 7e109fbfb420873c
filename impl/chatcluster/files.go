package chatcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rsocket-chat/rsgen/impl/chatsvc"
	"github.com/rsocket-chat/rsgen/impl/filestore"
	"github.com/rsocket-chat/rsgen/impl/nameset"
)

// Files is the cluster's shared file store: a JetStream object store,
// with the limits of a filestore directory. An object store writes a
// file's chunks first and its metadata last, so a reader finds the whole
// old file or the whole new one; a read that races an overwrite and finds
// the old chunks purged starts again on the new version (see getOnce).
//
// The names, sizes and charges come from a watch of the bucket, which
// every node keeps: the file-count and total-size limits are checked
// against it plus this node's uploads in progress, so nodes uploading at
// the same moment can overshoot them by those uploads. Listing follows
// the watch (a file uploaded through another node is listed within the
// watch's delivery time); Get and Put go to the store itself.
type Files struct {
	obs     jetstream.ObjectStore
	limits  filestore.Limits
	timeout time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	sizes   map[string]int64  // stored files
	charged int64             // what they are charged (filestore.Limits.Charge)
	pending map[uint64]upload // this node's uploads in progress
	nextID  uint64
	names   nameset.Set
}

var _ chatsvc.Files = (*Files)(nil)

func newFiles(obs jetstream.ObjectStore, limits filestore.Limits, timeout time.Duration, log *slog.Logger) *Files {
	// Limits.withDefaults is filestore's; CheckSize and Charge apply it,
	// and the fields read here take the same defaults.
	if limits.MaxFileBytes <= 0 {
		limits.MaxFileBytes = filestore.DefaultMaxFileBytes
	}
	if limits.MaxTotalBytes <= 0 {
		limits.MaxTotalBytes = filestore.DefaultMaxTotalBytes
	}
	if limits.MaxFiles <= 0 {
		limits.MaxFiles = filestore.DefaultMaxFiles
	}
	return &Files{
		obs: obs, limits: limits, timeout: timeout, log: log,
		sizes:   make(map[string]int64),
		pending: make(map[uint64]upload),
	}
}

// Limits implements chatsvc.Files.
func (f *Files) Limits() filestore.Limits { return f.limits }

// Put implements chatsvc.Files.
func (f *Files) Put(name string, data []byte) error {
	name, err := filestore.NormalizeName(name)
	if err != nil {
		return err
	}
	size := int64(len(data))
	if err := f.limits.CheckSize(size); err != nil {
		return err
	}
	id, err := f.reserve(name, size)
	if err != nil {
		return err
	}
	defer f.release(id)
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	info, err := f.obs.PutBytes(ctx, name, data)
	if err != nil {
		return fmt.Errorf("storing %q in the cluster: %w", name, err)
	}
	// The watch will say so too; recording it now lets this node list it
	// as soon as the upload is answered.
	f.mu.Lock()
	f.record(name, int64(info.Size), true)
	f.mu.Unlock()
	return nil
}

// upload is an upload in progress on this node.
type upload struct {
	name   string
	charge int64
}

// reserve checks the count and total limits for a file and holds its
// charge until release (the pending uploads count as stored, new names as
// new files).
func (f *Files) reserve(name string, size int64) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	charge := f.limits.Charge(name, size)
	held := f.charged
	count := len(f.sizes)
	for _, u := range f.pending {
		held += u.charge
		if _, stored := f.sizes[u.name]; !stored {
			count++
		}
	}
	old, exists := f.sizes[name]
	if exists {
		held -= f.limits.Charge(name, old)
	} else if count >= f.limits.MaxFiles {
		return 0, fmt.Errorf("%w: the store holds %d files, the limit", filestore.ErrTooManyFiles, count)
	}
	if held+charge > f.limits.MaxTotalBytes {
		return 0, fmt.Errorf("%w: %d bytes charged, %d more would pass the limit of %d",
			filestore.ErrStoreFull, held, charge, f.limits.MaxTotalBytes)
	}
	f.nextID++
	f.pending[f.nextID] = upload{name: name, charge: charge}
	return f.nextID, nil
}

func (f *Files) release(id uint64) {
	f.mu.Lock()
	delete(f.pending, id)
	f.mu.Unlock()
}

// record notes a stored (or removed) file; called with mu held.
func (f *Files) record(name string, size int64, stored bool) {
	if old, ok := f.sizes[name]; ok {
		f.charged -= f.limits.Charge(name, old)
		delete(f.sizes, name)
		f.names.Remove(name)
	}
	if stored {
		f.sizes[name] = size
		f.charged += f.limits.Charge(name, size)
		f.names.Add(name)
	}
}

// Get implements chatsvc.Files.
func (f *Files) Get(name string) ([]byte, error) {
	name, err := filestore.NormalizeName(name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		b, err := f.getOnce(ctx, name)
		switch {
		case errors.Is(err, jetstream.ErrObjectNotFound):
			return nil, fmt.Errorf("%w: %q", filestore.ErrNotFound, name)
		case errors.Is(err, errOverwritten) && attempt < 5:
			continue // read the new version
		case err != nil:
			return nil, fmt.Errorf("reading %q from the cluster: %w", name, err)
		}
		return b, nil
	}
}

// errOverwritten is getOnce's: the version being read was replaced.
var errOverwritten = errors.New("overwritten while read")

// overwriteCheck is how often a read checks that its version is still
// the current one.
const overwriteCheck = 100 * time.Millisecond

// getOnce reads the current version of a file. An overwrite purges the
// old version's chunks once the new one is complete, and a read of the
// old one then waits for chunks that will never come (nats.go's reader
// cannot know). So while it reads, getOnce checks that the name still
// points to the version it reads, and gives up on it when not. The
// reader itself cannot be interrupted (nats.go's Read blocks, holding
// the result's lock, until the context's deadline): it is left to end
// at that deadline, at most Files' timeout later. A version read whole
// is checked against its digest by nats.go.
func (f *Files) getOnce(ctx context.Context, name string) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	res, err := f.obs.Get(ctx, name)
	if err != nil {
		cancel()
		return nil, err
	}
	info, err := res.Info()
	if err != nil {
		cancel()
		_ = res.Close()
		return nil, err
	}
	type read struct {
		b   []byte
		err error
	}
	done := make(chan read, 1)
	go func() {
		b, err := io.ReadAll(res)
		_ = res.Close()
		cancel()
		done <- read{b, err}
	}()
	t := time.NewTicker(overwriteCheck)
	defer t.Stop()
	for {
		select {
		case r := <-done:
			if errors.Is(r.err, jetstream.ErrDigestMismatch) {
				return nil, errOverwritten
			}
			return r.b, r.err
		case <-t.C:
		}
		cur, err := f.obs.GetInfo(ctx, name)
		if errors.Is(err, jetstream.ErrObjectNotFound) || err == nil && cur.NUID != info.NUID {
			cancel()
			return nil, errOverwritten
		}
	}
}

// Size implements chatsvc.Files.
func (f *Files) Size(name string) (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.sizes[name]
	return n, ok
}

// After implements chatsvc.Files.
func (f *Files) After(prev string) (string, bool) { return f.names.After(prev) }

// List implements chatsvc.Files.
func (f *Files) List() []string { return f.names.List() }

// watchLoop keeps the index from the bucket's watch, restarted after a
// reconnect or a failure.
func (f *Files) watchLoop(ctx context.Context, wg *sync.WaitGroup, rewatch <-chan struct{}) {
	defer wg.Done()
	rewatching(ctx, rewatch, f.log, "files", f.watchOnce)
}

func (f *Files) watchOnce(ctx context.Context) error {
	w, err := f.obs.Watch(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	// A restarted watch sends every stored file again; files removed
	// meanwhile are those it did not send.
	seen := make(map[string]bool)
	initial := true
	for {
		var info *jetstream.ObjectInfo
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case info, ok = <-w.Updates():
		}
		if !ok {
			return errors.New("watch closed")
		}
		f.mu.Lock()
		switch {
		case info == nil:
			if initial {
				for name := range f.sizes {
					if !seen[name] {
						f.record(name, 0, false)
					}
				}
			}
			initial = false
			seen = nil
		default:
			f.record(info.Name, int64(info.Size), !info.Deleted)
			if initial && !info.Deleted {
				seen[info.Name] = true
			}
		}
		f.mu.Unlock()
	}
}
