package hooks

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"strconv"
	"time"
)

// DefaultTimeout is how long the hook waits for the daemon's ack before it
// falls back to the inbox journal.
const DefaultTimeout = 200 * time.Millisecond

// Call sends one request to the daemon at socket and waits for its answer
// until timeout. A socket that may belong to someone else (see CheckSocket)
// is never connected to: the error is then an *UntrustedError.
func Call(socket string, timeout time.Duration, req *Request) (*Response, error) {
	if err := CheckSocket(socket); err != nil {
		return nil, err
	}
	conn, err := dial(socket, time.Now().Add(timeout))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	req.V = ProtocolVersion
	if err := writeRequest(conn, req); err != nil {
		return nil, err
	}
	var resp Response
	if err := ReadFrame(conn, 64<<20, &resp); err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.V != ProtocolVersion {
		return &resp, fmt.Errorf("the daemon speaks protocol v%d, this client v%d: restart the daemon after upgrading (weave-agentd restart)", resp.V, ProtocolVersion)
	}
	if !resp.OK {
		return &resp, errors.New(resp.Error)
	}
	return &resp, nil
}

// NewEventID returns a random 128-bit id in hex. It only has to be unique
// (the daemon drops an id it has seen), so it comes from math/rand/v2's
// runtime-seeded generator: crypto/rand would link the FIPS module, whose
// size and package initialisation every hook process would pay for.
func NewEventID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// CursorEventID derives a Cursor event's id from its content. Cursor also
// runs hooks registered in Claude Code's settings, so one event can reach us
// twice — from hooks.json and from the import — with payloads that differ
// only in cwd (reported empty for imported tool events) and workspace_roots.
// The same content gives the same id, and the daemon keeps it once.
func CursorEventID(payload []byte) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		return NewEventID()
	}
	delete(m, "cwd")
	delete(m, "workspace_roots")
	canon, err := json.Marshal(m) // map keys are sorted: a canonical form
	if err != nil {
		return NewEventID()
	}
	h := fnv.New128a() // not crypto/sha256: see NewEventID
	h.Write(canon)
	return "c" + hex.EncodeToString(h.Sum(nil))
}

// RunHook is the whole hook program, shared by weave-agentd-hook and
// `weave-agentd hook`: read the payload, hand it to the daemon (or the inbox),
// print exactly what the agent expects, and return 0 — always.
func RunHook(args []string, stdin io.Reader, stdout io.Writer, getenv func(string) string) int {
	named := ""
	if len(args) > 0 {
		named = args[0]
	}
	raw, cut := readPayload(stdin)
	recv := time.Now()
	raw = StripBOM(raw)
	var dropped []string
	invalid := false
	if cut {
		if obj, names, ok := reduceCut(raw); ok {
			raw, dropped = obj, names
		} else {
			raw, invalid = raw[:1024], true // not a JSON object: nothing to keep
		}
	}
	agent, common, valid := detect(raw, named)
	id := NewEventID()
	if agent == AgentCursor {
		id = CursorEventID(raw)
	}
	ev := &Event{
		ID:        id,
		Agent:     agent,
		Name:      common.HookEventName,
		Session:   common.Session(),
		RecvNS:    recv.UnixNano(),
		Dropped:   dropped,
		Truncated: cut,
	}
	warning := ""
	if getenv("WEAVE_AGENTD_DISABLED") != "1" && len(raw) > 0 {
		if !invalid && valid {
			ev.Payload = raw
		} else {
			ev.Invalid = string(raw[:min(len(raw), 1024)])
		}
		Shrink(ev)
		warning = deliver(ev, getenv)
	}
	if out := Answer(agent, ev.Name, warning); len(out) > 0 {
		_, _ = stdout.Write(out)
	}
	return 0
}

// deliver sends ev to the daemon, falling back to the inbox. It returns the
// daemon's warning for the user, if any. Errors are swallowed on purpose: the
// hook must never disturb the agent.
func deliver(ev *Event, getenv func(string) string) string {
	paths, err := ResolvePaths(getenv)
	if err != nil {
		return ""
	}
	timeout := DefaultTimeout
	if v := getenv("WEAVE_AGENTD_HOOK_TIMEOUT_MS"); v != "" {
		if ms, err := strconv.Atoi(v); err == nil && ms > 0 {
			timeout = time.Duration(ms) * time.Millisecond
		}
	}
	return send(paths, timeout, ev)
}

// send is deliver once the paths are known. A socket that fails
// CheckSocket is never connected to: the event goes to the inbox, which
// lives under the user's own state folder, and 'weave-agentd status' and
// 'doctor' tell the user why.
func send(paths Paths, timeout time.Duration, ev *Event) string {
	resp, err := Call(paths.Socket, timeout, &Request{Op: OpEvent, Event: ev})
	if err == nil {
		return resp.Warning
	}
	// An error here (a full disk, a state folder that is not ours) leaves
	// nothing more to try without disturbing the agent.
	_ = AppendInbox(paths.Inbox, ev)
	return ""
}
