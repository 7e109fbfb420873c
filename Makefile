# Build tasks. Each schema in SCHEMAS is generated into generated/<name>
# by cmd/rsgen; add a schema by adding its name here.

GO      ?= go
SCHEMAS := chat kitchen

.PHONY: generate check-generate

## generate: regenerate generated/<name> from schema/<name>.yaml for every schema.
generate:
	@set -e; for s in $(SCHEMAS); do \
		echo "rsgen schema/$$s.yaml -> generated/$$s"; \
		$(GO) run ./cmd/rsgen -schema schema/$$s.yaml -out generated/$$s; \
	done

## check-generate: fail when the committed generated code differs from what the schemas produce.
check-generate: generate
	@if [ -n "$$(git status --porcelain -- generated)" ]; then \
		echo "generated/ is out of date with schema/; run 'make generate' and commit:"; \
		git status --porcelain -- generated; \
		exit 1; \
	fi
