package kitchen

// The rest of this package is generated from schema/kitchen.yaml; regenerate it
// with `go generate` here or `make generate` at the module root (both give
// the same files).
//go:generate go run github.com/rsocket-chat/rsgen/cmd/rsgen -schema ../../schema/kitchen.yaml -out .
