#!/usr/bin/env bash
# Runs every benchmark that BENCHMARKS.md reports, with the exact flags.
# Usage: make bench   (or ./bench.sh)
set -euo pipefail
cd "$(dirname "$0")"
echo "# $(date -u +%FT%TZ) $(uname -srm), $(nproc) cores, $(go version | cut -d' ' -f3)"
echo "# hook round trip: whole process, 2000 runs each"
go test -run '^$' -bench 'HookProcess' -benchtime 2000x ./cmd/weave-agentd-hook
echo "# hook on a 6 MB payload of many small values (250,000 strings / 800,000 numbers)"
go test -run '^$' -bench 'HookManyValues' -benchtime 20x ./cmd/weave-agentd-hook
echo "# spool ingest and export side"
go test -run '^$' -bench 'Ingest|PeekAck' -benchtime 3s ./spool
echo "# export to a local OTLP/HTTP server (gzip protobuf, decoded by the server)"
go test -run '^$' -bench 'Export' -benchtime 100000x ./daemon
echo "# one export request of 512 transcript spans: decode+marshal (before) vs assembled"
go test -run '^$' -bench 'ExportRequest' -benchmem -count 6 ./daemon/export
if ls transcript/claude/*_test.go >/dev/null 2>&1 && grep -q 'func Benchmark' transcript/claude/*_test.go; then
  echo "# transcript parse + reconstruction"
  go test -run '^$' -bench . -benchmem ./transcript/claude
fi
echo "# redaction (before the spool) on real transcript lines and tool output"
go test -run '^$' -bench 'Redact' -benchtime 2s ./redact
echo "# backfill pipeline in one process: one 200 MB transcript, 40 sessions (MB/s, MB/cpu-s, peak RSS)"
go test -run '^$' -bench 'BackfillInProcess' -benchtime 1x ./daemon
echo "# backfill of a 1 GiB history through the real daemon (MB/s, peak RSS)"
(cd e2e && WEAVE_BENCH_BACKFILL_MB=1024 go test -run '^$' -bench Backfill -benchtime 1x -timeout 20m .)
echo "# freshness: tool result line written -> execute_tool span at the Collector"
(cd e2e && go test -run '^$' -bench Freshness -benchtime 200x .)
echo "# idle daemon: CPU over 30 s and resident memory"
make -s build >/dev/null
home=$(mktemp -d /tmp/wab-idle-XXXXXX)
WEAVE_AGENTD_HOME="$home" HOME="$home" ./bin/weave-agentd run 2>/dev/null &
pid=$!
sleep 3
t0=$(awk '{print $14+$15}' /proc/$pid/stat)
sleep 30
t1=$(awk '{print $14+$15}' /proc/$pid/stat)
hz=$(getconf CLK_TCK)
echo "idle-cpu: $(( (t1 - t0) * 1000 / hz )) ms of CPU in 30 s ($(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN{printf "%.3f", (b-a)/hz/30*100}')%)"
grep -E 'VmRSS|VmHWM' /proc/$pid/status | tr -s ' \t' ' '
kill -INT $pid; wait $pid 2>/dev/null || true
rm -rf "$home"
