package transcript

import (
	"bytes"
	"encoding/json"
	"errors"
)

// DecodeFirst decodes the first n elements of the JSON array raw, one at
// a time: a transcript line can list a million parts, threads or tool
// calls, and decoding them all at once would hold them all. more reports
// elements left undecoded after the first n. null is no elements. Anything
// but an array, or an element that does not decode into T, is an error,
// with the elements decoded before it.
func DecodeFirst[T any](raw []byte, n int) (items []T, more bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok == nil {
		return nil, false, err
	}
	if tok != json.Delim('[') {
		return nil, false, ErrNotAList
	}
	for dec.More() {
		if len(items) == n {
			return items, true, nil // the caller's decoder has checked the whole value
		}
		var v T
		if err := dec.Decode(&v); err != nil {
			return items, false, err
		}
		items = append(items, v)
	}
	return items, false, nil
}

// ErrNotAList is DecodeFirst's error for a value that is not an array.
var ErrNotAList = errors.New("not a JSON array")
