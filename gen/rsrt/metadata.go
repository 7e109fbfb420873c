package rsrt

// Composite metadata and routing, parsed and encoded by hand. rsocket-go's
// CompositeMetadataScanner indexes its input without bounds checks, so a
// peer's malformed metadata would panic inside it; everything here checks
// every length against the buffer first and copies what it keeps.

import (
	"errors"
	"fmt"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
)

// Limits of the composite-metadata and routing formats.
const (
	// maxCustomMIME is the longest custom MIME type an entry can name: its
	// length minus one is stored in 7 bits.
	maxCustomMIME = 128
	// maxEntryLen is the largest entry content: a 24-bit length.
	maxEntryLen = 1<<24 - 1
	// maxTagLen is the longest routing tag: a one-byte length.
	maxTagLen = 255
	// routingID is the well-known id of message/x.rsocket.routing.v0.
	routingID = rsock.RoutingID
)

var (
	errNoRouting   = errors.New("missing routing metadata entry (" + MIMERouting + ")")
	errNoRouteTag  = errors.New("routing metadata entry has no route tag")
	errEmptyMIME   = errors.New("empty MIME type")
	errBadTagLen   = errors.New("routing tag length points past the end of the entry")
	errTruncEntry  = errors.New("truncated composite metadata entry")
	errMIMELen     = errors.New("custom MIME type longer than the entry")
	errEntryLength = errors.New("entry length points past the end of the metadata")
)

// ParseComposite parses composite metadata: it returns the first tag of
// the first routing entry (empty when there is none) and every other entry
// in wire order, copied out of b. Entries naming a well-known MIME id that
// this runtime does not know are skipped, as the extension allows. Any
// length that points past the end of b is an error.
func ParseComposite(b []byte) (route string, entries Metadata, err error) {
	r, n, err := scanComposite(b, nil, false)
	if err != nil {
		return "", nil, err
	}
	if n > 0 {
		entries = make(Metadata, 0, n)
		// Second pass with a destination: the first one only counted, so
		// that a request with only routing allocates nothing for entries.
		_, _, _ = scanComposite(b, &entries, false)
	}
	if r != nil {
		route, err = firstTag(r)
	}
	return route, entries, err
}

// scanComposite walks the entries of b. It returns the content of the first
// routing entry (a view of b) and the number of other known entries; when
// out is not nil it appends those entries to it: copies, or views of b
// when views is set (b is then owned by the caller, as a request's copy
// is).
func scanComposite(b []byte, out *Metadata, views bool) (routing []byte, n int, err error) {
	for off := 0; off < len(b); {
		m := b[off]
		off++
		var mime string
		known := true
		isRouting := false
		if m&0x80 != 0 {
			id := m & 0x7f
			if id == routingID {
				isRouting = true
			} else {
				mime = rsock.WellKnownMIME(id)
				known = mime != ""
			}
		} else {
			l := int(m) + 1
			if l > len(b)-off {
				return nil, 0, errMIMELen
			}
			if out != nil {
				mime = internMIME(b[off : off+l])
			} else {
				mime = "x" // counted only; the real string is made in the second pass
			}
			isRouting = l == len(MIMERouting) && string(b[off:off+l]) == MIMERouting
			off += l
		}
		if len(b)-off < 3 {
			return nil, 0, errTruncEntry
		}
		l := int(b[off])<<16 | int(b[off+1])<<8 | int(b[off+2])
		off += 3
		if l > len(b)-off {
			return nil, 0, errEntryLength
		}
		content := b[off : off+l]
		off += l
		switch {
		case isRouting:
			if routing == nil {
				routing = content[:len(content):len(content)]
			}
		case known:
			n++
			if out != nil {
				var data []byte
				switch {
				case len(content) == 0:
				case views:
					data = content[:len(content):len(content)]
				default:
					data = append([]byte(nil), content...)
				}
				*out = append(*out, Entry{MIME: mime, Data: data})
			}
		}
	}
	return routing, n, nil
}

// requestEntries returns the n known entries of a request's composite
// metadata b, other than routing, as views of b (the request owns b), in
// into when they fit.
func requestEntries(b []byte, n int, into Metadata) Metadata {
	entries := into[:0]
	if cap(entries) < n {
		entries = make(Metadata, 0, n)
	}
	_, _, _ = scanComposite(b, &entries, true)
	return entries
}

// internMIME returns b as a string, without allocating for the MIME types
// the runtime itself sends.
func internMIME(b []byte) string {
	if string(b) == MIMEDeadline {
		return MIMEDeadline
	}
	return string(b)
}

// firstTag returns the first tag of routing-entry content as a string.
func firstTag(r []byte) (string, error) {
	if len(r) == 0 {
		return "", errNoRouteTag
	}
	l := int(r[0])
	if l+1 > len(r) {
		return "", errBadTagLen
	}
	return string(r[1 : 1+l]), nil
}

// parseRoute is ParseComposite for the dispatch hot path: it returns the
// route tag as a view of b (no copy) and whether other entries exist, so a
// request carrying routing alone costs no allocation here.
func parseRoute(b []byte) (route []byte, others int, err error) {
	r, n, err := scanComposite(b, nil, false)
	if err != nil {
		return nil, 0, err
	}
	if r == nil {
		return nil, 0, errNoRouting
	}
	if len(r) == 0 {
		return nil, 0, errNoRouteTag
	}
	l := int(r[0])
	if l+1 > len(r) {
		return nil, 0, errBadTagLen
	}
	return r[1 : 1+l], n, nil
}

// EncodeComposite encodes a routing entry carrying route (when route is not
// empty) followed by entries, byte for byte as rsocket-py and rsocket-go
// encode them: well-known MIME types as their one-byte id, others as a
// length-prefixed ASCII string.
func EncodeComposite(route string, entries Metadata) ([]byte, error) {
	size := 0
	if route != "" {
		if len(route) > maxTagLen {
			return nil, fmt.Errorf("route %q longer than %d bytes", route, maxTagLen)
		}
		size += 1 + 3 + 1 + len(route)
	}
	for _, e := range entries {
		if _, ok := rsock.WellKnownID(e.MIME); !ok {
			if err := checkCustomMIME(e.MIME); err != nil {
				return nil, err
			}
			size += len(e.MIME)
		}
		if len(e.Data) > maxEntryLen {
			return nil, fmt.Errorf("metadata entry %s: %d bytes exceed the 24-bit entry length", e.MIME, len(e.Data))
		}
		size += 1 + 3 + len(e.Data)
	}
	b := make([]byte, 0, size)
	if route != "" {
		b = append(b, 0x80|routingID)
		b = appendU24(b, 1+len(route))
		b = append(b, byte(len(route)))
		b = append(b, route...)
	}
	for _, e := range entries {
		if id, ok := rsock.WellKnownID(e.MIME); ok {
			b = append(b, 0x80|id)
		} else {
			b = append(b, byte(len(e.MIME)-1))
			b = append(b, e.MIME...)
		}
		b = appendU24(b, len(e.Data))
		b = append(b, e.Data...)
	}
	return b, nil
}

// checkCustomMIME checks that a custom MIME type fits an entry header: 1 to
// 128 bytes of US-ASCII.
func checkCustomMIME(m string) error {
	if m == "" {
		return errEmptyMIME
	}
	if len(m) > maxCustomMIME {
		return fmt.Errorf("MIME type %q longer than %d bytes", m, maxCustomMIME)
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 0x20 || m[i] > 0x7e {
			return fmt.Errorf("MIME type %q is not printable ASCII", m)
		}
	}
	return nil
}

func appendU24(b []byte, n int) []byte {
	return append(b, byte(n>>16), byte(n>>8), byte(n))
}
