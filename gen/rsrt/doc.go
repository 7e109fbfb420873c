// Package rsrt is the small runtime that rsgen-generated code calls.
//
// Everything that is the same for every route lives here, once: parsing the
// composite metadata of a request, dispatching on the pair (interaction,
// route), decoding and encoding payloads, demand-driven stream senders,
// typed inbound sequences for request-channel, the per-connection context,
// server-to-client calls, and the client connection. Generated code is thin:
// it declares the routes of a schema and converts between typed Go values and
// the raw [Request] and [Response] values of this package.
//
// The runtime is written around the measured behaviour of rsocket-go v0.8.16
// (see DESIGN notes in the repository README): handlers never block the read
// loop, payload bytes are copied before they outlive a callback, producers
// emit only what the peer requested and stop on cancel, and every call into
// the library that can panic is recovered.
package rsrt
