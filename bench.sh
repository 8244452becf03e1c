#!/usr/bin/env bash
# Runs every benchmark that BENCHMARKS.md reports, with the exact flags.
# Usage: make bench   (or ./bench.sh)
set -euo pipefail
cd "$(dirname "$0")"
echo "# $(date -u +%FT%TZ) $(uname -srm), $(nproc) cores, $(go version | cut -d' ' -f3)"
echo "# hook round trip: whole process, 2000 runs each"
go test -run '^$' -bench 'HookProcess' -benchtime 2000x ./cmd/weave-agentd-hook
echo "# spool ingest and export side"
go test -run '^$' -bench 'Ingest|PeekAck' -benchtime 3s ./spool
echo "# export to a local OTLP/HTTP server (gzip protobuf, decoded by the server)"
go test -run '^$' -bench 'Export' -benchtime 100000x ./daemon
if ls transcript/claude/*_test.go >/dev/null 2>&1 && grep -q 'func Benchmark' transcript/claude/*_test.go; then
  echo "# transcript parse + reconstruction"
  go test -run '^$' -bench . -benchmem ./transcript/claude
fi
