module example.com/orders

go 1.26.8

require (
	github.com/rsocket-chat/rsgen v0.0.0
	github.com/rsocket/rsocket-go v0.8.16
)

require (
	github.com/dave/jennifer v1.7.1 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
	github.com/jjeffcaii/reactor-go v0.5.6 // indirect
	github.com/panjf2000/ants/v2 v2.5.0 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	go.uber.org/atomic v1.7.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
	golang.org/x/time v0.16.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

// This module lives inside the rsgen repository; elsewhere, drop the
// replace and require a version of github.com/rsocket-chat/rsgen instead.
replace github.com/rsocket-chat/rsgen => ../

tool github.com/rsocket-chat/rsgen/cmd/rsgen
