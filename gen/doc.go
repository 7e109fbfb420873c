// Package gen is the rsgen code generator: it turns a YAML route schema
// (see SCHEMA.md) into a typed RSocket API package built on the runtime in
// gen/rsrt.
//
// It works in three phases, each a separate function so that tests and the
// command can use them independently:
//
//   - [Parse] decodes the schema into yaml.Node values, so that every
//     problem has a line and column, validates it, and builds a [Model] in
//     which every Go identifier has already been computed (names.go). It
//     reports all the problems it finds, not only the first, as an
//     [ErrorList] sorted by position.
//   - [Generate] renders the model into Go source files, keyed by file name.
//     It is pure: it reads no file and writes none.
//   - cmd/rsgen writes the files, only after all of them rendered.
package gen
