package control

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/hooks"
)

// The method names and JSON field names are the wire format between a CLI
// and a daemon of different versions, and `status --json` is a contract for
// scripts: a rename here breaks them. Extending is fine (add to the lists).
func TestWireNamesAreStable(t *testing.T) {
	methods := map[Method]string{
		MethodBackfillStart:    "backfill.start",
		MethodBackfillProgress: "backfill.progress",
		MethodSessionsExported: "sessions.exported",
		MethodDeadLettersList:  "deadletters.list",
		MethodDeadLettersRetry: "deadletters.retry",
		MethodDeadLettersDrop:  "deadletters.drop",
	}
	for m, want := range methods {
		if string(m) != want {
			t.Errorf("method %q, want %q", m, want)
		}
	}
	fields := map[reflect.Type]string{
		reflect.TypeFor[Status](): "version pid started uptime_seconds endpoint endpoint_source sink_file socket spool_file spool " +
			"oldest_age_seconds export_healthy failing_since export_error active_sessions watched_files counters " +
			"storage_error config_error inbox_error skipped_files",
		reflect.TypeFor[ConfigError]():          "message since",
		reflect.TypeFor[ExportError]():          "message status hint refused",
		reflect.TypeFor[StorageError]():         "message since",
		reflect.TypeFor[SkippedFile]():          "path reason since",
		reflect.TypeFor[FlushArgs]():            "timeout_ms",
		reflect.TypeFor[FlushResult]():          "done remaining exported dead_lettered message",
		reflect.TypeFor[BackfillArgs]():         "paths since agent",
		reflect.TypeFor[BackfillProgress]():     "id started files files_done bytes bytes_done spans current done error skipped",
		reflect.TypeFor[DeadLetterView]():       "seq time reason span trace_id span_id candidates",
		reflect.TypeFor[DeadLetterResult]():     "count",
		reflect.TypeFor[SessionsExportedArgs](): "sessions",
		reflect.TypeFor[SessionQuery]():         "agent session files",
		reflect.TypeFor[SessionsExported]():     "sessions",
		reflect.TypeFor[SessionExportState]():   "agent session known offsets pending_spans dead_letters",
	}
	for typ, want := range fields {
		var got []string
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			got = append(got, name)
		}
		if !slices.Equal(got, strings.Fields(want)) {
			t.Errorf("%s JSON fields:\n got %s\nwant %s", typ.Name(), strings.Join(got, " "), want)
		}
	}
}

func TestRequest(t *testing.T) {
	args := json.RawMessage(`{"paths":["/x"]}`)
	got := Request(MethodBackfillStart, args)
	want := &hooks.Request{Op: hooks.OpCall, Method: "backfill.start", Args: args}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Request = %+v, want %+v", got, want)
	}
}
