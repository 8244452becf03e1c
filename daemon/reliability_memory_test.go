package daemon

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// memLimit is the soft heap limit `weave-agentd run` sets
// (debug.SetMemoryLimit); the memory tests run under it too.
const memLimit = 64 << 20

// sendLargeFrames has clients each send one MaxFrame request at once (an
// event whose JSON starts with event and ends with closing around a big
// string) and checks the heap stayed bounded; it returns the answers.
func sendLargeFrames(t *testing.T, clients int, event, closing string) (served, busy int, td *testDaemon) {
	home := t.TempDir()
	td = startTestDaemon(t, home, config.Target{URL: "http://127.0.0.1:1/v1/traces"}, nil)
	head := func(i int) string {
		return fmt.Sprintf(`{"v":1,"op":"event","event":{"id":"%032x","agent":"claude",`, i) + event
	}
	// The big middle lives outside the Go heap (only the daemon's
	// allocations are measured) and is shared by every client.
	body, err := syscall.Mmap(-1, 0, hooks.MaxFrame-len(head(0))-len(closing), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(body)
	for i := range body {
		body[i] = 'x'
	}
	stop := testkit.HeapPeak(memLimit)
	var wg sync.WaitGroup
	answers := make([]string, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("unix", td.set.Paths.Socket)
			if err != nil {
				answers[i] = err.Error()
				return
			}
			defer c.Close()
			h := head(i)
			var hdr [4]byte
			binary.BigEndian.PutUint32(hdr[:], uint32(len(h)+len(body)+len(closing)))
			for _, p := range [][]byte{hdr[:], []byte(h), body, []byte(closing)} {
				if _, err := c.Write(p); err != nil {
					break // refused before it was read: the answer says why
				}
			}
			var resp hooks.Response
			if err := hooks.ReadFrame(c, 1<<20, &resp); err != nil {
				answers[i] = "read: " + err.Error()
				return
			}
			b, _ := json.Marshal(resp)
			answers[i] = string(b)
		}()
	}
	wg.Wait()
	// The session actors apply the stored events: measured too, and done
	// before the daemon stops (its shutdown would wait for them, on a
	// loaded machine beyond its deadline).
	if err := td.sess.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	peak, live := stop()
	for i, a := range answers {
		switch {
		case strings.Contains(a, `"ok":true`):
			served++
		case strings.Contains(a, "daemon busy"):
			busy++
		default:
			t.Errorf("client %d: %s", i, a)
		}
	}
	t.Logf("%d clients × %d MiB frames: %d served, %d told busy; heap peak %d MiB, live heap peak %d MiB (soft limit %d MiB)",
		clients, hooks.MaxFrame>>20, served, busy, peak>>20, live>>20, memLimit>>20)
	if live > memLimit*3/4 || peak > memLimit*5/4 {
		t.Errorf("with %d concurrent %d MiB frames the heap went to %d MiB, %d MiB live: want the live heap under 3/4 of the %d MiB limit, the whole heap near it",
			clients, hooks.MaxFrame>>20, peak>>20, live>>20, memLimit>>20)
	}
	if served == 0 {
		t.Error("no request was served")
	}
	return served, busy, td
}

// Many clients each sending a frame of the largest size at once: the
// daemon reads (allocates) only as many at a time as its frame budget
// allows; the others wait in the kernel's socket buffers, or are told the
// daemon is busy (the hook then journals the event to its inbox). The heap
// stays bounded: it went to ~810 MiB with 100 clients.
func TestManyLargeFramesAtOnceKeepTheHeapBounded(t *testing.T) {
	t.Run("malformed events", func(t *testing.T) {
		// Decoded and counted, not stored.
		served, _, td := sendLargeFrames(t, 100, `"event":"Notification","session":"s","invalid":"`, `"}}`)
		if st, _ := td.Status(); st.Counters["bad_events"] != int64(served) {
			t.Errorf("bad_events = %d, want one per served request (%d)", st.Counters["bad_events"], served)
		}
	})
	t.Run("stored events", func(t *testing.T) {
		// Also redacted, encoded and stored: a few times their size each.
		served, _, td := sendLargeFrames(t, 12, `"event":"Notification","session":"s","payload":{"session_id":"s","hook_event_name":"Notification","message":"`, `"}}}`)
		if st, _ := td.Status(); st.Counters["events"] != int64(served) {
			t.Errorf("events = %d, want one per served request (%d)", st.Counters["events"], served)
		}
	})
}
