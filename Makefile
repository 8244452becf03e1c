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

# Brief fuzzing of the socket frame decoder, the hook payload decoder and its
# cut-payload reducer, the redactor, the transcript parser and the GenAI JSON
# cap (FUZZTIME each; longer: make fuzz FUZZTIME=5m).
FUZZTIME ?= 5s
fuzz:
	$(GO) test ./hooks -run '^$$' -fuzz '^FuzzReadFrame$$' -fuzztime $(FUZZTIME)
	$(GO) test ./hooks -run '^$$' -fuzz '^FuzzDetect$$' -fuzztime $(FUZZTIME)
	$(GO) test ./redact -run '^$$' -fuzz '^FuzzRedactJSON$$' -fuzztime $(FUZZTIME)
	$(GO) test ./transcript/claude -run '^$$' -fuzz '^FuzzLine$$' -fuzztime $(FUZZTIME)
	$(GO) test ./transcript/claude -run '^$$' -fuzz '^FuzzJstr$$' -fuzztime $(FUZZTIME)
	$(GO) test ./transcript/codex -run '^$$' -fuzz '^FuzzCodexLine$$' -fuzztime $(FUZZTIME)
	$(GO) test ./transcript/gemini -run '^$$' -fuzz '^FuzzGeminiLine$$' -fuzztime $(FUZZTIME)
	$(GO) test ./daemon -run '^$$' -fuzz '^FuzzTailerResume$$' -fuzztime $(FUZZTIME)
	$(GO) test ./redact -run '^$$' -fuzz '^FuzzSecretInAnyText$$' -fuzztime $(FUZZTIME)
	$(GO) test ./hooks -run '^$$' -fuzz '^FuzzReduceCut$$' -fuzztime $(FUZZTIME)
	$(GO) test ./genai -run '^$$' -fuzz '^FuzzCapJSON$$' -fuzztime $(FUZZTIME)

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
