package hooks

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ProtocolVersion is carried in every request and response, so that a new
// client and an old daemon (or the reverse) fail clearly.
const ProtocolVersion = 1

// MaxFrame caps one socket message. Hook payloads larger than this are
// shrunk by the client (see Shrink) before sending.
const MaxFrame = 8 << 20

// Operations a client may ask of the daemon.
const (
	OpEvent  = "event"  // store one hook event (acked after the bbolt commit)
	OpStatus = "status" // report health
	OpFlush  = "flush"  // export everything held now
	OpCall   = "call"   // any other command, named in Request.Method
)

// Event is one hook event as the client sends it and as the inbox journal
// stores it (one JSON object per line).
type Event struct {
	ID      string          `json:"id"`      // random 128-bit hex, set by the client
	Agent   string          `json:"agent"`   // AgentClaude or AgentCursor ("" if unknown)
	Name    string          `json:"event"`   // hook_event_name
	Session string          `json:"session"` // session / conversation id
	RecvNS  int64           `json:"recv_ns"` // when the client read stdin, Unix ns
	Payload json.RawMessage `json:"payload,omitempty"`
	// Invalid holds the start of a payload that was not JSON, so the daemon
	// can count and log it.
	Invalid string `json:"invalid,omitempty"`
	// Dropped names top-level payload fields removed to fit MaxFrame.
	Dropped []string `json:"dropped,omitempty"`
	// Truncated marks a payload longer than the hook reads (MaxFrame): the
	// hook kept the small members that came before the cut; members after
	// it are unknown.
	Truncated bool `json:"truncated,omitempty"`
}

// Request is a client-to-daemon message.
type Request struct {
	V      int             `json:"v"`
	Op     string          `json:"op"`
	Method string          `json:"method,omitempty"`
	Event  *Event          `json:"event,omitempty"`
	Args   json.RawMessage `json:"args,omitempty"`
}

// Response is the daemon's answer.
type Response struct {
	V     int    `json:"v"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Warning, when set on an event ack, is a short message for the user
	// (exports failing for a while); the client shows it on SessionStart.
	Warning string          `json:"warning,omitempty"`
	Body    json.RawMessage `json:"body,omitempty"`
}

// ErrFrameTooLarge is returned for a frame over MaxFrame.
var ErrFrameTooLarge = errors.New("frame exceeds the size cap")

// WriteFrame writes v as one length-prefixed JSON frame.
func WriteFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	return writeFrameBytes(w, b)
}

// writeFrameBytes writes the encoded message b as one length-prefixed frame.
func writeFrameBytes(w io.Writer, b []byte) error {
	if len(b) > MaxFrame {
		return ErrFrameTooLarge
	}
	buf := make([]byte, 4, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	_, err := w.Write(append(buf, b...))
	return err
}

// writeRequest is WriteFrame for a request, with its event's payload
// spliced in rather than re-encoded (see MarshalEvent).
func writeRequest(w io.Writer, req *Request) error {
	if req.Event == nil || len(req.Event.Payload) == 0 {
		return WriteFrame(w, req)
	}
	r := *req
	r.Event = nil
	head, err := json.Marshal(&r)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	ev, err := MarshalEvent(req.Event)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	return writeFrameBytes(w, splice(head, "event", ev))
}

// MarshalEvent is json.Marshal(ev) without a second pass over the payload,
// which encoding/json makes for a json.RawMessage (it re-checks and
// compacts it): on a payload of megabytes that was a third of the hook's
// time, and the copies held several times an 8 MiB payload alive in the
// daemon. A payload on one line is spliced in as it is, copied once: the
// caller must have checked it is JSON (the hook's json.Unmarshal, the
// daemon's json.Valid). One on several lines (a pretty-printed payload) is
// compacted, as the inbox holds one event per line. The hook's frames and
// inbox lines and the daemon's stored records are all encoded here.
func MarshalEvent(ev *Event) ([]byte, error) {
	if len(ev.Payload) == 0 {
		return json.Marshal(ev)
	}
	e := *ev
	e.Payload = nil
	head, err := json.Marshal(&e)
	if err != nil {
		return nil, err
	}
	payload := bytes.TrimSpace(ev.Payload) // agents end it with a newline
	if bytes.ContainsAny(payload, "\r\n") {
		var buf bytes.Buffer
		if err := json.Compact(&buf, payload); err != nil {
			return nil, err
		}
		payload = buf.Bytes()
	}
	return splice(head, "payload", payload), nil
}

// splice adds "key":val as the last member of the JSON object obj.
func splice(obj []byte, key string, val []byte) []byte {
	out := make([]byte, 0, len(obj)+len(key)+len(val)+4)
	out = append(out, obj[:len(obj)-1]...)
	if len(obj) > 2 {
		out = append(out, ',')
	}
	out = append(out, '"')
	out = append(out, key...)
	out = append(out, '"', ':')
	out = append(out, val...)
	return append(out, '}')
}

// ReadFrame reads one frame into v, refusing frames over limit bytes.
func ReadFrame(r io.Reader, limit int, v any) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if int64(n) > int64(limit) {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, limit)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("read frame: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode frame: %w", err)
	}
	return nil
}

// Shrink makes an event fit in a frame by dropping the largest top-level
// payload fields (tool responses, file contents) and naming them in Dropped.
func Shrink(ev *Event) {
	if len(ev.Payload)+frameOverhead <= MaxFrame {
		return
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(ev.Payload, &m); err != nil {
		ev.Invalid = "payload over the frame cap and not a JSON object"
		ev.Payload = nil
		return
	}
	size := len(ev.Payload)
	for size+frameOverhead > MaxFrame {
		big, bigLen := "", 0
		for k, v := range m {
			if len(v) > bigLen {
				big, bigLen = k, len(v)
			}
		}
		if big == "" {
			break
		}
		delete(m, big)
		ev.Dropped = append(ev.Dropped, big)
		size -= bigLen
	}
	b, err := json.Marshal(m)
	if err != nil {
		ev.Payload = nil
		return
	}
	ev.Payload = b
}
