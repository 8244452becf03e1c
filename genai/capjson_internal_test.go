package genai

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzWriteString: writeString escapes exactly as encoding/json does, so a
// capped attribute keeps the bytes of every string it did not shorten.
func FuzzWriteString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\s", "<a>&", "\b\f\n\r\t\x00\x1f\x7f", "é日本😀", "\u2028\u2029", "\xff\xfe bad", "a\xe2\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		writeString(&b, s)
		if b.String() != string(want) {
			t.Errorf("writeString(%q) = %s, json.Marshal = %s", s, b.String(), want)
		}
	})
}
