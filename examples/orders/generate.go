package orders

// The rest of this package is generated from ../schema/orders.yaml by the
// rsgen tool of go.mod's tool directive: run `go generate ./...` in
// examples/ after changing the schema.
//go:generate go tool rsgen go -schema ../schema/orders.yaml -out .
