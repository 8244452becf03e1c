package npmpkg

import (
	"context"
	"errors"
	"testing"
)

func TestOnceKeepsTheFirstEnd(t *testing.T) {
	var o Once
	runs := 0
	failing := func(context.Context) (string, error) { runs++; return "", errors.New("no npm") }
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := o.Do(cancelled, failing); err == nil {
		t.Fatal("no error")
	}
	// A cancelled install is retried; a failed one is not.
	for range 2 {
		if _, err := o.Do(t.Context(), failing); err == nil {
			t.Fatal("no error")
		}
	}
	if runs != 2 {
		t.Errorf("install ran %d times, want 2", runs)
	}

	var ok Once
	for range 2 {
		p, err := ok.Do(t.Context(), func(context.Context) (string, error) { runs++; return "/bin/cli", nil })
		if p != "/bin/cli" || err != nil {
			t.Errorf("got %q, %v", p, err)
		}
	}
	if runs != 3 {
		t.Errorf("a successful install ran again")
	}
}
