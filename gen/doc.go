// Package gen is the rsgen code generator: it turns a YAML route schema
// (see SCHEMA.md) into a typed RSocket API package built on the runtime in
// gen/rsrt.
//
// [Parse] reads a schema in three steps, one file each, and reports all
// the problems it finds, not only the first, as an [ErrorList] of
// file:line:col: messages sorted by position:
//
//   - decode (syntax.go) turns the YAML document into a syntax tree in
//     which every value keeps its line and column, checking only the
//     shape of the document (kinds of values, known and required keys);
//   - validate (validate.go) turns the syntax tree into a [Model],
//     resolving references and checking the rules of the schema language;
//   - name (names.go) assigns every Go identifier of the generated code,
//     fixed or derived from the schema, and checks them for collisions.
//
// [Generate] renders the model into Go source files, keyed by file name,
// with one emitter per construct (emit_*.go) that takes every identifier
// from the model and decides none. It is pure: it reads no file and writes
// none. cmd/rsgen writes the files, only after all of them rendered.
package gen
