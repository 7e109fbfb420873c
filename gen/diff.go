package gen

// Diff compares two models of a schema, as the wire sees them. The parties
// are the roles of the schema: the server (it serves routes, calls
// client_routes) and the client. A change breaks existing clients when a
// client built on the old schema fails against a server built on the new
// one, in an interaction the old schema defined; it breaks existing
// servers when a server built on the old schema fails against a client
// built on the new one. What only renames Go identifiers is compatible on
// the wire and reported as such.
//
// The rules follow from how rsgen peers read what they receive: a JSON
// object with a key its type does not have is rejected, and so is one
// without a required field (absent or null); a required metadata entry
// that is absent is an error, an entry of an unknown MIME type is
// ignored; string data must be UTF-8, empty data is ignored. A value flows from a producer to a consumer (a
// request from the caller to the handler, a response back): a change
// breaks the existing producer when the new consumer rejects or misreads
// what it sends, and the existing consumer when it rejects or misreads
// what the new producer sends.

import (
	"fmt"
	"strings"
)

// Verdict says whom a change breaks: a set of parties.
type Verdict uint8

// The verdicts; BreaksClients|BreaksServers breaks both.
const (
	Compatible    Verdict = 0
	BreaksClients Verdict = 1 << 0
	BreaksServers Verdict = 1 << 1
)

// String returns the verdict as rsgen diff prints it.
func (v Verdict) String() string {
	switch v {
	case Compatible:
		return "compatible"
	case BreaksClients:
		return "breaks clients"
	case BreaksServers:
		return "breaks servers"
	}
	return "breaks clients and servers"
}

// Change is one difference between two schemas.
type Change struct {
	Verdict Verdict
	// Subject is what changed: route "login" (request-response), type
	// "Message": field "user", ...
	Subject string
	// Detail says how, and why it breaks what it breaks.
	Detail string
	// Via lists the route payloads through which a change of a type
	// reaches the wire: route "message" (request-response) request.
	Via []string
}

// String returns the change as one line.
func (c Change) String() string {
	s := fmt.Sprintf("%s: %s: %s", c.Verdict, c.Subject, c.Detail)
	if len(c.Via) > 0 {
		s += " (via " + strings.Join(c.Via, ", ") + ")"
	}
	return s
}

// flow is the direction of a value: the party that produces it and the
// party that consumes it, each as the verdict that breaks it.
type flow struct{ producer, consumer Verdict }

// Flows of requests and responses for the routes of a side: a server
// route is called by the client.
func requestFlow(client bool) flow {
	if client {
		return flow{producer: BreaksServers, consumer: BreaksClients}
	}
	return flow{producer: BreaksClients, consumer: BreaksServers}
}

func responseFlow(client bool) flow {
	f := requestFlow(client)
	return flow{producer: f.consumer, consumer: f.producer}
}

// differ collects changes, merging the same change reached through
// several routes.
type differ struct {
	changes []*Change
	index   map[string]*Change
	// via is the route payload being compared; seen the pairs of object
	// types already compared through it (types may be recursive).
	via  string
	seen map[[2]*Object]bool
}

func (d *differ) add(v Verdict, subject, format string, args ...any) {
	detail := fmt.Sprintf(format, args...)
	key := subject + "\x00" + detail
	c := d.index[key]
	if c == nil {
		c = &Change{Subject: subject, Detail: detail}
		d.index[key] = c
		d.changes = append(d.changes, c)
	}
	c.Verdict |= v
	if d.via != "" && !contains(c.Via, d.via) {
		c.Via = append(c.Via, d.via)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Diff returns the changes from old to new: breaking ones first, each
// group in the order of the schemas.
func Diff(old, new *Model) []Change {
	d := &differ{index: map[string]*Change{}}
	if old.Package != new.Package {
		d.add(Compatible, "package", "renamed from %s to %s (Go API only)", old.Package, new.Package)
	}
	d.side(old.Server, new.Server)
	d.side(old.Client, new.Client)
	var breaking, compatible []Change
	for _, c := range d.changes {
		if c.Verdict != Compatible {
			breaking = append(breaking, *c)
		} else {
			compatible = append(compatible, *c)
		}
	}
	return append(breaking, compatible...)
}

type routeKey struct {
	i    Interaction
	name string
}

func (d *differ) side(old, new *Side) {
	newRoutes := map[routeKey]*Route{}
	for _, r := range new.Routes {
		newRoutes[routeKey{r.Interaction, r.Name}] = r
	}
	oldRoutes := map[routeKey]*Route{}
	for _, r := range old.Routes {
		oldRoutes[routeKey{r.Interaction, r.Name}] = r
	}
	var removed, added []*Route
	for _, r := range old.Routes {
		if n := newRoutes[routeKey{r.Interaction, r.Name}]; n != nil {
			d.route(r, n)
		} else {
			removed = append(removed, r)
		}
	}
	for _, r := range new.Routes {
		if oldRoutes[routeKey{r.Interaction, r.Name}] == nil {
			added = append(added, r)
		}
	}
	// caller breaks the party that calls the routes of this side, handler
	// the one that serves them.
	f := requestFlow(new.Client)
	caller, handler := f.producer, f.consumer
	for _, r := range removed {
		// A route that changed only its interaction, or only its name
		// with its method name kept by go:, is one change.
		if a := match(added, func(a *Route) bool { return a.Name == r.Name }); a != nil {
			added = remove(added, a)
			d.add(caller|handler, routeSubject(r), "interaction changed from %s to %s: each side's peers call and serve the other", r.Interaction, a.Interaction)
			continue
		}
		if a := match(added, func(a *Route) bool { return a.Interaction == r.Interaction && a.GoName == r.GoName }); a != nil {
			added = remove(added, a)
			d.add(caller|handler, routeSubject(r), "renamed to %q (method %s kept): each side's peers call and serve the other name", a.Name, a.GoName)
			continue
		}
		if new.Client {
			d.add(caller, routeSubject(r), "removed: existing servers calling it get an UndeclaredRouteError, since new clients do not declare it")
		} else {
			d.add(caller, routeSubject(r), "removed: existing clients calling it get an error")
		}
	}
	for _, a := range added {
		d.add(Compatible, routeSubject(a), "added")
	}
}

// match returns the only route of rs that ok accepts, or nil.
func match(rs []*Route, ok func(*Route) bool) *Route {
	var found *Route
	for _, r := range rs {
		if ok(r) {
			if found != nil {
				return nil
			}
			found = r
		}
	}
	return found
}

func remove(rs []*Route, r *Route) []*Route {
	out := rs[:0:0]
	for _, x := range rs {
		if x != r {
			out = append(out, x)
		}
	}
	return out
}

func routeSubject(r *Route) string {
	return fmt.Sprintf("%s %q (%s)", sideWord(r.Side.Client), r.Name, r.Interaction)
}

// route compares two versions of one (interaction, route) pair.
func (d *differ) route(old, new *Route) {
	subj := routeSubject(old)
	req, resp := requestFlow(new.Side.Client), responseFlow(new.Side.Client)
	if old.GoName != new.GoName {
		d.add(Compatible, subj, "method renamed from %s to %s (Go API only)", old.GoName, new.GoName)
	}
	if old.InitialEmpty != new.InitialEmpty {
		d.add(req.producer|req.consumer, subj, "initial: empty %s: the first request item moves between the REQUEST_CHANNEL frame and the next payload", map[bool]string{true: "added", false: "removed"}[new.InitialEmpty])
	}
	d.via = subj + " request"
	d.payload(old.Request, new.Request, req, subj+": request")
	d.entries(old.RequestMeta, new.RequestMeta, req, subj+": request metadata")
	d.entries(old.OpenMeta, new.OpenMeta, req, subj+": open metadata")
	d.via = subj + " response"
	d.payload(old.Response, new.Response, resp, subj+": response")
	d.entries(old.ResponseMeta, new.ResponseMeta, resp, subj+": response metadata")
	d.via = ""
}

var payloadNames = map[PayloadKind]string{PayloadEmpty: "empty", PayloadString: "string", PayloadBytes: "bytes"}

func payloadName(p Payload) string {
	if p.Kind == PayloadObject {
		return p.Object.Name
	}
	return payloadNames[p.Kind]
}

// payload compares the data of a request or a response.
func (d *differ) payload(old, new Payload, f flow, subj string) {
	via := d.via
	d.via = "" // the change is the route's own
	defer func() { d.via = via }()
	switch {
	case old.Kind == PayloadObject && new.Kind == PayloadObject:
		if old.Object.Name != new.Object.Name {
			d.add(Compatible, subj, "type %s is now %s (Go API only; the fields are compared)", old.Object.Name, new.Object.Name)
		}
		d.via = via
		d.seen = map[[2]*Object]bool{}
		d.object(old.Object, new.Object, f)
	case old.Kind == new.Kind:
	case old.Kind == PayloadEmpty:
		d.add(f.producer, subj, "changed from empty to %s: existing senders send no data", payloadName(new))
	case new.Kind == PayloadEmpty:
		d.add(f.consumer, subj, "changed from %s to empty: existing receivers get no data", payloadName(old))
	case old.Kind == PayloadString && new.Kind == PayloadBytes:
		d.add(f.consumer, subj, "changed from string to bytes: existing receivers reject data that is not UTF-8")
	case old.Kind == PayloadBytes && new.Kind == PayloadString:
		d.add(f.producer, subj, "changed from bytes to string: new receivers reject data that is not UTF-8")
	default:
		d.add(f.producer|f.consumer, subj, "changed from %s to %s", payloadName(old), payloadName(new))
	}
}

// object compares two versions of an object type by their fields, which
// are what the wire carries.
func (d *differ) object(old, new *Object, f flow) {
	if d.seen[[2]*Object{old, new}] {
		return
	}
	d.seen[[2]*Object{old, new}] = true
	fields := map[string]*Field{}
	for _, fd := range new.Fields {
		fields[fd.Name] = fd
	}
	oldFields := map[string]bool{}
	for _, o := range old.Fields {
		oldFields[o.Name] = true
		subj := fmt.Sprintf("type %q: field %q", new.Name, o.Name)
		n := fields[o.Name]
		if n == nil {
			if o.Optional {
				d.add(f.producer, subj, "optional field removed: new receivers reject the key that existing senders set")
			} else {
				d.add(f.producer|f.consumer, subj, "required field removed: new receivers reject the key that existing senders send, existing receivers refuse values without it")
			}
			continue
		}
		switch {
		case o.Optional && !n.Optional:
			d.add(f.producer, subj, "optional to required: existing senders leave it out, new receivers refuse values without it")
		case !o.Optional && n.Optional:
			d.add(f.consumer, subj, "required to optional: new senders leave it out, existing receivers refuse values without it")
		}
		if o.Type != nil && n.Type != nil {
			d.fieldType(o.Type, n.Type, f, subj)
		}
	}
	for _, n := range new.Fields {
		if oldFields[n.Name] {
			continue
		}
		subj := fmt.Sprintf("type %q: field %q", new.Name, n.Name)
		if n.Optional {
			d.add(f.consumer, subj, "optional field added: existing receivers reject the key when a new sender sets it")
		} else {
			d.add(f.producer|f.consumer, subj, "required field added: existing senders leave it out, existing receivers reject the key")
		}
	}
}

func (d *differ) fieldType(old, new *FieldType, f flow, subj string) {
	switch {
	case old.Kind == FieldList && new.Kind == FieldList:
		d.fieldType(old.Elem, new.Elem, f, subj)
	case old.Kind == FieldObject && new.Kind == FieldObject:
		if old.Object.Name != new.Object.Name {
			d.add(Compatible, subj, "type %s is now %s (Go API only; the fields are compared)", old.Object.Name, new.Object.Name)
		}
		d.object(old.Object, new.Object, f)
	case old.Kind == new.Kind:
	case old.Kind == FieldInteger && new.Kind == FieldNumber:
		d.add(f.consumer, subj, "integer to number: existing receivers reject a fraction")
	case old.Kind == FieldNumber && new.Kind == FieldInteger:
		d.add(f.producer, subj, "number to integer: new receivers reject a fraction")
	default:
		d.add(f.producer|f.consumer, subj, "type changed from %s to %s", fieldTypeName(old), fieldTypeName(new))
	}
}

func fieldTypeName(t *FieldType) string {
	switch t.Kind {
	case FieldList:
		return "[" + fieldTypeName(t.Elem) + "]"
	case FieldObject:
		return t.Object.Name
	}
	return [...]string{FieldString: "string", FieldInteger: "integer", FieldNumber: "number", FieldBoolean: "boolean"}[t.Kind]
}

// entries compares the metadata entries of a payload. Entries are
// identified on the wire by their MIME type; an entry of the same name
// with another MIME type is a changed MIME type.
func (d *differ) entries(old, new []*Entry, f flow, subj string) {
	via := d.via
	d.via = ""
	defer func() { d.via = via }()
	byMIME := map[string]*Entry{}
	for _, e := range new {
		byMIME[e.MIME] = e
	}
	matched := map[*Entry]bool{}
	var gone []*Entry
	for _, o := range old {
		n := byMIME[o.MIME]
		if n == nil {
			gone = append(gone, o)
			continue
		}
		matched[n] = true
		esubj := fmt.Sprintf("%s: entry %s", subj, o.MIME)
		if o.Name != n.Name {
			d.add(Compatible, esubj, "renamed from %s to %s (Go API only)", o.Name, n.Name)
		}
		switch {
		case o.Optional && !n.Optional:
			d.add(f.producer, esubj, "optional to required: existing senders may leave it out")
		case !o.Optional && n.Optional:
			d.add(f.consumer, esubj, "required to optional: existing receivers reject a payload without it")
		}
		switch {
		case !o.Bytes && n.Bytes:
			d.add(f.consumer, esubj, "string to bytes: existing receivers reject a value that is not UTF-8")
		case o.Bytes && !n.Bytes:
			d.add(f.producer, esubj, "bytes to string: new receivers reject a value that is not UTF-8")
		}
	}
	for _, o := range gone {
		var n *Entry
		for _, e := range new {
			if e.Name == o.Name && !matched[e] {
				n = e
			}
		}
		if n != nil {
			matched[n] = true
			var v Verdict
			if !n.Optional {
				v |= f.producer
			}
			if !o.Optional {
				v |= f.consumer
			}
			d.add(v, fmt.Sprintf("%s: entry %s", subj, o.Name), "MIME type changed from %s to %s: each side's peers look for the other", o.MIME, n.MIME)
			continue
		}
		if o.Optional {
			d.add(Compatible, fmt.Sprintf("%s: entry %s", subj, o.MIME), "optional entry removed")
		} else {
			d.add(f.consumer, fmt.Sprintf("%s: entry %s", subj, o.MIME), "required entry removed: existing receivers reject a payload without it")
		}
	}
	for _, n := range new {
		if matched[n] {
			continue
		}
		if n.Optional {
			d.add(Compatible, fmt.Sprintf("%s: entry %s", subj, n.MIME), "optional entry added: existing receivers ignore it")
		} else {
			d.add(f.producer, fmt.Sprintf("%s: entry %s", subj, n.MIME), "required entry added: existing senders leave it out")
		}
	}
}
