// Package filestore keeps the chat's uploaded files on disk, under one data
// directory, so that they survive a restart.
//
// A file name is only ever used as a key, never as a path: the on-disk name
// of a file is the hex SHA-256 of its name (so "../x" or "/etc/passwd" are
// stored safely inside the directory like any other key, and a 255-byte name
// does not hit the file system's name length limit), and the original name
// is kept in a small header at the start of the file itself. Names follow
// the chat's name rules (package chatname): every method normalizes the
// name it is given to Unicode NFC, and refuses with an error a name that is
// empty, longer than [MaxNameBytes] once normalized, not UTF-8, or that
// contains control, format (zero-width, bidirectional), invisible or
// unassigned characters. A file stored by an older version under a name
// these rules refuse is ignored by [Open], like a foreign file.
//
// Writes are atomic: the content goes to a temporary file in the same
// directory, which is fsynced, renamed over the final name, and the directory
// fsynced. A reader therefore sees the old content or the new one, never a
// mix, and a crash leaves at worst a stale temporary file, removed by the
// next [Open]. No lock is held while a file is written: uploads go to disk
// in parallel, each [Store.Put] returns (and its caller can drop the
// payload) as soon as its own file is durable. Only the accounting below
// and the rename (ordered per name, so that the index always describes the
// file a name last renamed to) take a lock.
//
// Limits, each refused with an error saying which:
//
//   - the size of one file (default [DefaultMaxFileBytes]);
//   - the total the files are charged (default [DefaultMaxTotalBytes]):
//     each file costs its content plus a per-file overhead
//     ([DefaultFileOverheadBytes] and the length of its name), what an
//     empty file really takes on disk (a block, an inode, its header), so
//     that thousands of empty files cannot fill a disk while the quota
//     counts nothing;
//   - the number of files (default [DefaultMaxFiles]).
//
// Replacing a file is charged the difference. An upload in progress holds
// its whole charge (and, for a new name, a file slot) until it is stored
// or fails, so that uploads written in parallel can never together exceed
// a limit.
//
// The names are kept in a sorted index (package nameset) that [Store.After]
// walks one name at a time, so the files streams of many clients share one
// snapshot of it instead of each holding a sorted copy.
package filestore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rsocket-chat/rsgen/impl/chatname"
	"github.com/rsocket-chat/rsgen/impl/nameset"
)

// Defaults of [Limits].
const (
	// DefaultMaxFileBytes is the default largest file accepted: 16 MiB.
	DefaultMaxFileBytes = 16 << 20
	// DefaultMaxTotalBytes is the default total size of the store: 1 GiB.
	DefaultMaxTotalBytes = 1 << 30
	// DefaultMaxFiles is the default number of files the store holds.
	DefaultMaxFiles = 10_000
	// DefaultFileOverheadBytes is what a file is charged beyond its
	// content and its name: a file system block.
	DefaultFileOverheadBytes = 4 << 10
	// MaxNameBytes is the longest file name accepted, in bytes.
	MaxNameBytes = 255
)

const (
	// magic starts every stored file, so that foreign files in the data
	// directory are recognised and ignored rather than served.
	magic = "RSCHATF1"
	// fileSuffix ends the on-disk name of every stored file.
	fileSuffix = ".chatfile"
	// tmpPrefix starts the name of temporary files, removed by Open.
	tmpPrefix = ".tmp-"
	// headerFixed is the magic plus the 2-byte name length.
	headerFixed = len(magic) + 2
)

// Errors returned by the store; the error texts are meant for chat users.
var (
	// ErrNotFound is returned by Get for a name that is not stored.
	ErrNotFound = errors.New("file not found")
	// ErrTooLarge is wrapped by Put for a file over the size limit.
	ErrTooLarge = errors.New("file too large")
	// ErrStoreFull is wrapped by Put when the store would exceed its total
	// size.
	ErrStoreFull = errors.New("file store full")
	// ErrTooManyFiles is wrapped by Put when a new name would exceed the
	// file-count limit.
	ErrTooManyFiles = errors.New("too many files")
	// ErrBadName is wrapped by every method for a name that is refused.
	ErrBadName = errors.New("invalid file name")
)

// Limits bounds what the store accepts. Zero values mean the defaults.
type Limits struct {
	// MaxFileBytes is the largest file accepted (default 16 MiB).
	MaxFileBytes int64
	// MaxTotalBytes is the largest total the stored files are charged:
	// their contents plus each one's overhead (default 1 GiB).
	MaxTotalBytes int64
	// MaxFiles is the largest number of stored files (default 10,000).
	MaxFiles int
	// FileOverheadBytes is what each file is charged beyond its content
	// and the length of its name (default 4 KiB); negative means nothing.
	FileOverheadBytes int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = DefaultMaxFileBytes
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	switch {
	case l.FileOverheadBytes == 0:
		l.FileOverheadBytes = DefaultFileOverheadBytes
	case l.FileOverheadBytes < 0:
		l.FileOverheadBytes = 0
	}
	return l
}

// CheckSize returns an error wrapping ErrTooLarge for a file of size bytes
// over MaxFileBytes, or nil.
func (l Limits) CheckSize(size int64) error {
	if limit := l.withDefaults().MaxFileBytes; size > limit {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, size, limit)
	}
	return nil
}

// Charge returns what a file of size bytes named name is charged against
// MaxTotalBytes: its size, the per-file overhead and its name's length.
func (l Limits) Charge(name string, size int64) int64 {
	return size + l.withDefaults().FileOverheadBytes + int64(len(name))
}

// Store is a directory of named files. It is safe for concurrent use.
type Store struct {
	dir    string
	limits Limits

	// mu guards the index below, which mirrors the directory's content,
	// and the charges of the uploads in progress. It is never held while
	// a file is written.
	mu       sync.Mutex
	sizes    map[string]int64 // content size by name
	total    int64            // content bytes of the stored files
	charged  int64            // what the stored files are charged
	reserved int64            // charged by the uploads in progress
	newNames int              // uploads in progress of names not stored yet
	// names is the sorted index of the stored names that the files
	// streams walk, one shared snapshot for all of them.
	names nameset.Set

	// renames orders the rename and the index update of uploads of one
	// name (by a hash of it): the index always describes the file a name
	// was last renamed to. Names that share a stripe only wait for each
	// other's renames, never for a write.
	renames    [renameStripes]sync.Mutex
	renameSeed maphash.Seed

	// afterWrite, when set (by tests), runs between an upload's write and
	// its rename.
	afterWrite func(name string)

	// stored and storedBytes count the files Put stored, and their
	// content bytes, since Open (guarded by mu).
	stored, storedBytes int64
}

// renameStripes is the number of rename locks.
const renameStripes = 64

// Open opens (creating it if needed) the store in dir, removes temporary
// files a crash may have left behind, and indexes the stored files.
func Open(dir string, limits Limits) (*Store, error) {
	if dir == "" {
		return nil, errors.New("filestore: empty data directory")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	s := &Store{dir: dir, limits: limits.withDefaults(), sizes: make(map[string]int64), renameSeed: maphash.MakeSeed()}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, tmpPrefix):
			// An upload interrupted before its rename: never visible, drop it.
			_ = os.Remove(filepath.Join(dir, name))
		case strings.HasSuffix(name, fileSuffix) && e.Type().IsRegular():
			key, size, err := readHeader(filepath.Join(dir, name))
			if err != nil || diskName(key) != name {
				continue // not one of ours, or damaged: ignore it
			}
			s.sizes[key] = size
			s.names.Add(key)
			s.total += size
			s.charged += s.limits.Charge(key, size)
		}
	}
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Limits returns the limits in force, defaults applied.
func (s *Store) Limits() Limits { return s.limits }

// NormalizeName returns name normalized to NFC, or an error wrapping
// ErrBadName that says why it cannot be a file name.
func NormalizeName(name string) (string, error) {
	n, err := chatname.Check(name, MaxNameBytes)
	if err != nil {
		return "", fmt.Errorf("%w: the name %v", ErrBadName, err)
	}
	return n, nil
}

// Put stores data under name, replacing any file of that name. It writes
// without holding any lock of the store, so uploads proceed in parallel;
// it returns once the file is durable (or refused, or failed).
func (s *Store) Put(name string, data []byte) error {
	name, err := NormalizeName(name)
	if err != nil {
		return err
	}
	size := int64(len(data))
	if err := s.limits.CheckSize(size); err != nil {
		return err
	}
	charge := s.limits.Charge(name, size)
	isNew, err := s.reserve(name, size, charge)
	if err != nil {
		return err
	}
	tmp, err := s.writeTemp(name, data)
	if err != nil {
		s.release(charge, isNew)
		return err
	}
	if s.afterWrite != nil {
		s.afterWrite(name)
	}
	if err := s.commit(name, tmp, size, charge, isNew); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	// The rename is durable only once the directory itself is synced.
	if d, derr := os.Open(s.dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// reserve checks the limits for an upload of size bytes charged charge,
// and holds its charge (and, for a name not stored yet, a file slot) until
// commit or release. Replacing a file counts the difference with the
// stored one; the uploads in progress count in full, so that parallel
// uploads cannot together exceed a limit whatever order they finish in.
func (s *Store) reserve(name string, size, charge int64) (isNew bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, stored := s.sizes[name]
	after := s.charged + s.reserved + charge
	if stored {
		after -= s.limits.Charge(name, old)
	}
	if after > s.limits.MaxTotalBytes {
		return false, fmt.Errorf("%w: storing %d bytes (%d with the per-file overhead) would bring it to %d bytes, the limit is %d",
			ErrStoreFull, size, charge, after, s.limits.MaxTotalBytes)
	}
	if !stored && len(s.sizes)+s.newNames >= s.limits.MaxFiles {
		return false, fmt.Errorf("%w: the store holds %d files, the limit is %d",
			ErrTooManyFiles, len(s.sizes)+s.newNames, s.limits.MaxFiles)
	}
	s.reserved += charge
	if !stored {
		s.newNames++
	}
	return !stored, nil
}

// release gives back what reserve held, for an upload that failed.
func (s *Store) release(charge int64, isNew bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reserved -= charge
	if isNew {
		s.newNames--
	}
}

// commit renames the written temporary file over name and moves the
// upload's reservation into the index, in the order of the renames of that
// name.
func (s *Store) commit(name, tmp string, size, charge int64, isNew bool) error {
	var h maphash.Hash
	h.SetSeed(s.renameSeed)
	_, _ = h.WriteString(name)
	mu := &s.renames[h.Sum64()%renameStripes]
	mu.Lock()
	defer mu.Unlock()
	if err := os.Rename(tmp, filepath.Join(s.dir, diskName(name))); err != nil {
		s.release(charge, isNew)
		return fmt.Errorf("filestore: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.sizes[name]; ok {
		s.total -= old
		s.charged -= s.limits.Charge(name, old)
	} else {
		s.names.Add(name)
	}
	s.sizes[name] = size
	s.total += size
	s.charged += charge
	s.stored++
	s.storedBytes += size
	s.reserved -= charge
	if isNew {
		s.newNames--
	}
	return nil
}

// writeTemp writes the file's header and content to a new temporary file
// in the store's directory, fsyncs and closes it, and returns its path.
func (s *Store) writeTemp(name string, data []byte) (path string, err error) {
	f, err := os.CreateTemp(s.dir, tmpPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("filestore: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	var hdr [headerFixed]byte
	copy(hdr[:], magic)
	binary.BigEndian.PutUint16(hdr[len(magic):], uint16(len(name)))
	for _, b := range [][]byte{hdr[:], []byte(name), data} {
		if _, err = f.Write(b); err != nil {
			return "", fmt.Errorf("filestore: %w", err)
		}
	}
	if err = f.Sync(); err != nil {
		return "", fmt.Errorf("filestore: %w", err)
	}
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("filestore: %w", err)
	}
	return tmp, nil
}

// Get returns the content of the named file, or an error wrapping
// ErrNotFound.
func (s *Store) Get(name string) ([]byte, error) {
	name, err := NormalizeName(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(s.dir, diskName(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	key, data, err := parse(b)
	if err != nil || key != name {
		// A damaged file, or (astronomically unlikely) a hash collision:
		// never serve another file's bytes.
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return data, nil
}

// Size returns the content size of the named file, and whether it is
// stored.
func (s *Store) Size(name string) (int64, bool) {
	name, err := NormalizeName(name)
	if err != nil {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.sizes[name]
	return n, ok
}

// List returns the names of the stored files, sorted, in a slice of the
// caller's own. A stream of the names should walk them with After instead.
func (s *Store) List() []string { return s.names.List() }

// After returns the smallest stored name greater than prev, and whether
// there is one; After("") returns the first. Walking the names this way
// holds no copy of the list (see package nameset).
func (s *Store) After(prev string) (string, bool) { return s.names.After(prev) }

// TotalBytes returns the total size of the stored files' contents.
func (s *Store) TotalBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// ChargedBytes returns what the stored files are charged against
// MaxTotalBytes: their contents plus each one's overhead.
func (s *Store) ChargedBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.charged
}

// Stored returns the number of files Put has stored since the store was
// opened (a replaced file counts again) and their content bytes.
func (s *Store) Stored() (files, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stored, s.storedBytes
}

// Count returns the number of stored files.
func (s *Store) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sizes)
}

// diskName is the on-disk name of a key: a hash, so that the name is
// never interpreted by the file system and always has a fixed length.
func diskName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:]) + fileSuffix
}

// parse splits a stored file into its name and content.
func parse(b []byte) (string, []byte, error) {
	if len(b) < headerFixed || !bytes.Equal(b[:len(magic)], []byte(magic)) {
		return "", nil, errors.New("bad header")
	}
	n := int(binary.BigEndian.Uint16(b[len(magic):headerFixed]))
	if len(b) < headerFixed+n {
		return "", nil, errors.New("truncated header")
	}
	return string(b[headerFixed : headerFixed+n]), b[headerFixed+n:], nil
}

// readHeader reads the name and content size of a stored file without
// reading its content.
func readHeader(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	var hdr [headerFixed]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return "", 0, err
	}
	if string(hdr[:len(magic)]) != magic {
		return "", 0, errors.New("bad header")
	}
	n := int(binary.BigEndian.Uint16(hdr[len(magic):]))
	name := make([]byte, n)
	if _, err := io.ReadFull(f, name); err != nil {
		return "", 0, err
	}
	if n, err := NormalizeName(string(name)); err != nil || n != string(name) {
		return "", 0, errors.New("bad name")
	}
	return string(name), st.Size() - int64(headerFixed+n), nil
}
