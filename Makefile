# Build tasks. Each schema in SCHEMAS is generated into generated/<name>
# by cmd/rsgen; add a schema by adding its name here. Each schema in
# TS_SCHEMAS also gets its TypeScript client in generated/<name>-ts.

GO      ?= go
SCHEMAS := chat kitchen
TS_SCHEMAS := chat

.PHONY: generate check-generate demo test lint test-go test-examples test-js test-ts bench fuzz

## generate: regenerate generated/<name> (the Go package and API.md, its reference) from schema/<name>.yaml for every schema,
## and schema/rsgen.schema.json, the JSON Schema of the schema language for editors; then bundle the chat page
## (impl/chatweb/web -> impl/chatweb/dist, esbuild's Go API on the npm packages of ts/, installed with npm ci if missing);
## then go generate in the examples/ module.
generate:
	@$(GO) build -o "$${TMPDIR:-/tmp}/rsgen.$$$$" ./cmd/rsgen; \
	rsgen="$${TMPDIR:-/tmp}/rsgen.$$$$"; trap 'rm -f "$$rsgen"' EXIT; set -e; \
	for s in $(SCHEMAS); do \
		echo "rsgen schema/$$s.yaml -> generated/$$s"; \
		"$$rsgen" go -schema schema/$$s.yaml -out generated/$$s; \
		"$$rsgen" doc -schema schema/$$s.yaml -out generated/$$s/API.md; \
	done; \
	for s in $(TS_SCHEMAS); do \
		echo "rsgen ts schema/$$s.yaml -> generated/$$s-ts"; \
		"$$rsgen" ts -schema schema/$$s.yaml -out generated/$$s-ts; \
	done; \
	echo "rsgen jsonschema -> schema/rsgen.schema.json"; \
	"$$rsgen" jsonschema -out schema/rsgen.schema.json
	@if [ ! -d $(TS_DIR)/node_modules ]; then cd $(TS_DIR) && npm ci --no-audit --no-fund; fi
	$(GO) run ./impl/chatweb/bundle
	cd examples && $(GO) generate ./...

## check-generate: fail when the committed generated code, API references, JSON Schema or page bundle differ from what rsgen and the bundler produce.
check-generate: generate
	@if [ -n "$$(git status --porcelain -- generated schema/rsgen.schema.json impl/chatweb/dist examples)" ]; then \
		echo "generated/, schema/rsgen.schema.json, impl/chatweb/dist or examples/ is out of date; run 'make generate' and commit:"; \
		git status --porcelain -- generated schema/rsgen.schema.json impl/chatweb/dist examples; \
		exit 1; \
	fi

## demo: the main job: start an embedded chat server and replay the tutorial's scenario against it.
demo:
	$(GO) run ./cmd/chat demo

## test: the whole test suite: the linters, Go tests with the race detector (fuzz seed corpora included), the examples/ module, then the rsocket-js interop suite, then the TypeScript checks.
test: lint test-go test-examples test-js test-ts

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

## lint: go vet and staticcheck (pinned; go run fetches it, so it stays out of go.mod) over the module
## and over examples/ (which test-examples vets).
lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	cd examples && $(GO) run $(STATICCHECK) ./...

## test-go: every Go test, race detector on; then, without it, the load
## tool's smoke tests, which skip under -race: the race detector reports a
## race inside reactor-go when the plain rsocket-go baseline server they run
## closes connections (see cmd/chat-load/race_test.go).
test-go:
	$(GO) test -race -timeout 30m ./...
	$(GO) test -count=1 -timeout 10m ./cmd/chat-load/

## test-examples: examples/, a module of its own that uses rsgen as another team would (replace, tool
## directive, go:generate): build and vet it, check that go generate leaves it unchanged, and run its
## client against its server on 127.0.0.1.
test-examples:
	cd examples && $(GO) generate ./...
	@if [ -n "$$(git status --porcelain -- examples)" ]; then \
		echo "examples/ changed under go generate; run 'go generate ./...' in examples/ (or make generate) and commit:"; \
		git status --porcelain -- examples; \
		exit 1; \
	fi
	cd examples && $(GO) build ./... && $(GO) vet ./...
	cd examples && $(GO) test -race -count=1 ./...

JS_DIR := impl/testdata/interop-js

## test-js: rsocket-js (npm) clients drive a chat server built from this checkout; then the
## reference scenario again against a chat-server that is a cluster node (--nats embedded).
test-js:
	@command -v node >/dev/null || { echo "test-js needs Node.js 20+ and npm"; exit 1; }
	@if [ ! -d $(JS_DIR)/node_modules ]; then cd $(JS_DIR) && npm ci --no-audit --no-fund; fi
	@dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && \
		$(GO) build -o "$$dir/chat-server" ./cmd/chat-server && \
		cd $(JS_DIR) && CHAT_SERVER_BIN="$$dir/chat-server" node --test --test-concurrency=1 && \
		echo "test-js: the reference scenario against a node of a chat cluster (embedded NATS)" && \
		CHAT_INTEROP_CLUSTER=1 CHAT_SERVER_BIN="$$dir/chat-server" node --test --test-concurrency=1 test/scenario.test.js

TS_DIR := ts

## test-ts: tsc --strict over the TypeScript runtime (ts/rsrt.ts) and the generated
## clients (generated/*-ts, gen/tsgen/testdata), then the generated chat client,
## bundled by esbuild for Node and for the browser, against a chat server built
## from this checkout.
test-ts:
	@command -v node >/dev/null || { echo "test-ts needs Node.js 20+ and npm"; exit 1; }
	@if [ ! -d $(TS_DIR)/node_modules ]; then cd $(TS_DIR) && npm ci --no-audit --no-fund; fi
	cd $(TS_DIR) && npx tsc -p tsconfig.json --strict --noEmit
	@dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && \
		$(GO) build -o "$$dir/chat-server" ./cmd/chat-server && \
		cd $(TS_DIR) && npx esbuild test/*.test.ts --bundle --platform=node --format=cjs --outdir="$$dir/test" --alias:@rsgen/rsrt=./rsrt.ts --log-level=warning && \
		npx esbuild test/browser-entry.ts --bundle --platform=browser --format=iife --outfile="$$dir/browser.js" --alias:@rsgen/rsrt=./rsrt.ts --log-level=warning && \
		CHAT_SERVER_BIN="$$dir/chat-server" BROWSER_BUNDLE="$$dir/browser.js" node --test --test-concurrency=1 "$$dir"/test/*.test.js

## bench: dispatch benchmarks (generated vs hand-written rsocket-go: request-response, request-stream,
## request-channel, and dispatch alone), with a summary of medians and ratios; then a quick load run
## (chat vs baseline). BENCHCOUNT runs each benchmark that many times.
BENCHCOUNT ?= 5
bench:
	@out=$$(mktemp) && trap 'rm -f "$$out"' EXIT && \
		$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) ./gen/rsrt/ > "$$out"; \
		status=$$?; awk -f gen/rsrt/benchratio.awk "$$out"; exit $$status
	$(GO) run ./cmd/chat-load --quick

## fuzz: run each fuzz target for FUZZTIME (default 30s); plain `go test` runs only their seed corpora.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./gen/
	$(GO) test -run '^$$' -fuzz '^FuzzParseComposite$$' -fuzztime $(FUZZTIME) ./gen/rsrt/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeJSON$$' -fuzztime $(FUZZTIME) ./gen/rsrt/
	$(GO) test -run '^$$' -fuzz '^FuzzEncodeJSON$$' -fuzztime $(FUZZTIME) ./gen/rsrt/
	$(GO) test -run '^$$' -fuzz '^FuzzCheck$$' -fuzztime $(FUZZTIME) ./gen/rsrt/guard/
	$(GO) test -run '^$$' -fuzz '^FuzzName$$' -fuzztime $(FUZZTIME) ./impl/chatname/
	@for f in FuzzDecodeMessage FuzzDecodeStatisticsRequest FuzzDecodeClientStatistics FuzzDecodeString FuzzFileNameMetadata; do \
		$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./generated/chat/ || exit 1; \
	done
