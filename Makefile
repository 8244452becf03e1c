# weave-agentd — build, test, benchmark, install.
# `make test` is the test command (README, .ci/run); `make bench` writes
# BENCHMARKS.md's raw numbers to bench.out.

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
GO      ?= go
BIN     := bin

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
DEADCODE    := golang.org/x/tools/cmd/deadcode@v0.52.0

.PHONY: all build test unit e2e crash vet fuzz bench install clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/weave-agentd ./cmd/weave-agentd
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/weave-agentd-hook ./cmd/weave-agentd-hook

vet:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt needed on the files above" && exit 1)
	$(GO) vet ./...
	cd e2e && $(GO) vet ./...
	@# Dead code and common mistakes: staticcheck (unused unexported code
	@# among its checks; staticcheck.conf) and deadcode (exported functions
	@# nothing reaches, tests counted as callers). Pinned, run through the
	@# module cache: nothing to preinstall.
	$(GO) run $(STATICCHECK) ./...
	cd e2e && $(GO) run $(STATICCHECK) ./...
	@for m in . e2e; do \
		out=$$(cd $$m && $(GO) run $(DEADCODE) -test ./...) || exit 1; \
		test -z "$$out" || { echo "$$out"; echo "dead code above (in $$m): remove it"; exit 1; }; \
	done
	@# go.mod and go.sum must be what `go mod tidy` writes (both modules).
	$(GO) mod tidy -diff
	cd e2e && GONOSUMDB=go.opentelemetry.io/collector $(GO) mod tidy -diff

unit:
	$(GO) test -race -count=1 ./...

# End-to-end: real hook binary, real daemon, the Collector's OTLP receiver,
# and the real Claude Code CLI (installed from npm by the test) offline.
e2e:
	cd e2e && $(GO) test -count=1 -timeout 15m ./...

# Brief fuzzing (FUZZTIME each; longer: make fuzz FUZZTIME=5m) of the socket
# frame decoder, the hook payload decoder and its cut-payload reducer, the
# redactor, each agent's transcript parser, the tailer, the export request
# assembler and the GenAI JSON cap. Each target is checked to exist first:
# `go test -fuzz` with a pattern that matches nothing passes silently.
FUZZTIME ?= 5s
FUZZ_TARGETS := \
	./hooks:FuzzReadFrame ./hooks:FuzzDetect ./hooks:FuzzReduceCut \
	./redact:FuzzRedactJSON ./redact:FuzzSecretInAnyText ./redact:FuzzScanFindsEveryAnchor \
	./transcript/claude:FuzzLine ./transcript/claude:FuzzJstr \
	./transcript/cursor:FuzzLine ./transcript/codex:FuzzCodexLine ./transcript/gemini:FuzzGeminiLine \
	./daemon/sessions:FuzzTailerResume ./daemon/export:FuzzAssembleRequest \
	./genai:FuzzCapJSON
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		$(GO) test $$pkg -list "^$$name\$$" | grep -qx "$$name" || { echo "fuzz target $$name not found in $$pkg"; exit 1; }; \
		echo "fuzz $$pkg $$name"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

# The long crash test (RELIABILITY.md): 60 SIGKILLs over every fixture
# transcript; `make e2e` runs a short version.
crash:
	cd e2e && WEAVE_E2E_LONG=1 $(GO) test -count=1 -timeout 30m -run '^TestCrashKill9LosesNothingDuplicatesNothing$$' -v .

test: vet unit fuzz e2e

bench: build
	./bench.sh | tee bench.out

install: build
	./$(BIN)/weave-agentd install

clean:
	rm -rf $(BIN) bench.out
