// Package status is what the daemon says of itself: the status snapshot
// (the spool's numbers, export health, sessions, skipped files, storage,
// inbox and config errors), the warning hooks show while exports fail, and
// the health of writes to the spool that ingest and the sessions record.
package status

import (
	"sync"
	"time"
)

// Health remembers whether writes fail (a full disk, an I/O error), so that
// status can say so: events refused then are kept only in the hooks' inbox
// journal, if it could be written. The zero value is healthy.
type Health struct {
	mu    sync.Mutex
	err   string
	since time.Time
}

// Failed records a failed write.
func (h *Health) Failed(err error, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == "" {
		h.since = now
	}
	h.err = err.Error()
}

// OK records a write that succeeded: it clears the failure.
func (h *Health) OK() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.err, h.since = "", time.Time{}
}

// State returns the latest write error and since when writes fail, or "".
func (h *Health) State() (string, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err, h.since
}
