package daemon

import (
	"sync"
	"time"
)

// storageHealth remembers whether writes to the spool fail (a full disk, an
// I/O error), so that status can say so: events refused then are kept only
// in the hooks' inbox journal, if it could be written.
type storageHealth struct {
	mu    sync.Mutex
	err   string
	since time.Time
}

func (h *storageHealth) failed(err error, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == "" {
		h.since = now
	}
	h.err = err.Error()
}

func (h *storageHealth) ok() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.err, h.since = "", time.Time{}
}

// state returns the latest write error and since when writes fail, or "".
func (h *storageHealth) state() (string, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err, h.since
}
