package localhttp

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// TestLogWaitsForAnswersBeingRecorded: a client that has read its whole
// answer, then reads the log, sees its exchange even when the handler
// records it only later (a CLI exits, its test reads what the stand-in got).
func TestLogWaitsForAnswersBeingRecorded(t *testing.T) {
	var log Log[string]
	srv := Start(t, "log", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record := log.Begin()
		_, _ = io.WriteString(w, "answer")
		w.(http.Flusher).Flush()
		time.Sleep(200 * time.Millisecond) // the handler is slow to note what it did
		record(r.URL.Path)
	}))
	resp, err := http.Get(srv.URL() + "/one")
	if err != nil {
		t.Fatal(err)
	}
	// Like a CLI reading a stream up to its last event: the answer whole,
	// not the end of the response (which comes when the handler returns).
	b := make([]byte, len("answer"))
	if _, err := io.ReadFull(resp.Body, b); err != nil || string(b) != "answer" {
		t.Fatalf("answer %q: %v", b, err)
	}
	defer resp.Body.Close()
	if got := log.All(); len(got) != 1 || got[0] != "/one" {
		t.Fatalf("log right after the answer: %v", got)
	}
	log.NoteUnknown("GET /x")
	if got := log.Unknown(); len(got) != 1 || got[0] != "GET /x" {
		t.Fatalf("unknown: %v", got)
	}
}
