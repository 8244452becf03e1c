package transcript

import (
	"bytes"
	"encoding/json"
)

// EncodeState encodes a builder's state for MarshalState. HTML escaping is
// off so that raw JSON held in the state (tool inputs) comes back
// byte-identical after a restore.
func EncodeState(st any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(st); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Recent remembers the latest ids added to it — span ids already emitted,
// event ids already applied — so that a builder refuses to do something
// twice. It keeps at least the max latest (trimming a quarter of max at a
// time: trimming on every Add made adding quadratic in max) and persists in
// a builder's state as a JSON list, oldest first.
type Recent struct {
	list []string
	set  map[string]struct{}
}

// Has reports whether id is remembered.
func (r *Recent) Has(id string) bool {
	if r.set == nil && len(r.list) > 0 {
		r.index()
	}
	_, ok := r.set[id]
	return ok
}

// Add remembers id, forgetting the oldest beyond max. It reports false when
// id was already remembered.
func (r *Recent) Add(id string, max int) bool {
	if r.Has(id) {
		return false
	}
	if r.set == nil {
		r.set = map[string]struct{}{}
	}
	r.set[id] = struct{}{}
	r.list = append(r.list, id)
	if n := len(r.list); n > max+max/4 {
		for _, old := range r.list[:n-max] {
			delete(r.set, old)
		}
		r.list = append([]string(nil), r.list[n-max:]...)
	}
	return true
}

func (r *Recent) index() {
	r.set = make(map[string]struct{}, len(r.list))
	for _, id := range r.list {
		r.set[id] = struct{}{}
	}
}

// IsZero reports whether nothing is remembered (for omitzero).
func (r Recent) IsZero() bool { return len(r.list) == 0 }

// MarshalJSON encodes the ids as a list, oldest first.
func (r Recent) MarshalJSON() ([]byte, error) { return json.Marshal(r.list) }

// UnmarshalJSON restores the list MarshalJSON wrote.
func (r *Recent) UnmarshalJSON(b []byte) error {
	r.set = nil
	return json.Unmarshal(b, &r.list)
}
