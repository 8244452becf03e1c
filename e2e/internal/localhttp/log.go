package localhttp

import (
	"sync"
	"time"
)

// Log records what a stand-in server received: its exchanges, of the
// stand-in's own type E, and the requests it had no answer for.
//
// A handler calls Begin as a request arrives and the returned record once it
// has answered. A client can read the whole answer and return before the
// handler gets to record (a CLI exits, its test reads the log), so All and
// Unknown first wait, at most InFlightWait, for the handlers still answering.
type Log[E any] struct {
	mu       sync.Mutex
	inFlight int
	idle     chan struct{} // closed when inFlight drops to 0
	items    []E
	unknown  []string
}

// InFlightWait bounds how long a read of a Log waits for handlers still
// answering (a stand-in scripted to hang must not hang its test).
const InFlightWait = 5 * time.Second

// Begin marks a request as being answered; call record exactly once, after
// the answer was written, with the exchange to keep.
func (l *Log[E]) Begin() (record func(E)) {
	l.mu.Lock()
	if l.inFlight == 0 {
		l.idle = make(chan struct{})
	}
	l.inFlight++
	l.mu.Unlock()
	return func(e E) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.items = append(l.items, e)
		if l.inFlight--; l.inFlight == 0 {
			close(l.idle)
		}
	}
}

// NoteUnknown records a request the stand-in had no answer for ("POST /x").
func (l *Log[E]) NoteUnknown(req string) {
	l.mu.Lock()
	l.unknown = append(l.unknown, req)
	l.mu.Unlock()
}

// All returns every exchange recorded, in the order they were answered.
func (l *Log[E]) All() []E {
	l.settle()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]E(nil), l.items...)
}

// Unknown returns the requests noted by NoteUnknown, in order.
func (l *Log[E]) Unknown() []string {
	l.settle()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.unknown...)
}

// settle waits, at most InFlightWait, until no handler is answering.
func (l *Log[E]) settle() {
	l.mu.Lock()
	idle := l.idle
	busy := l.inFlight > 0
	l.mu.Unlock()
	if !busy {
		return
	}
	t := time.NewTimer(InFlightWait)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
}
