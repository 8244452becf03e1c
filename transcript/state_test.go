package transcript

import (
	"encoding/json"
	"fmt"
	"testing"
)

func TestRecentKeepsTheLatestAndRoundTrips(t *testing.T) {
	var r Recent
	if !r.Add("a", 4) || r.Add("a", 4) {
		t.Fatal("Add must accept a new id once")
	}
	for i := 0; i < 20; i++ {
		r.Add(fmt.Sprint(i), 4)
	}
	for i := 16; i < 20; i++ {
		if !r.Has(fmt.Sprint(i)) {
			t.Errorf("latest id %d forgotten", i)
		}
	}
	if r.Has("a") || r.Has("0") {
		t.Error("old ids kept beyond max and its slack")
	}
	b, err := json.Marshal(struct {
		R Recent `json:"r,omitzero"`
	}{r})
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		R Recent `json:"r"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.R.Has("19") || back.R.Has("a") || len(back.R.list) != len(r.list) {
		t.Fatalf("round trip: %s → %v", b, back.R.list)
	}
	if b, _ := json.Marshal(struct {
		R Recent `json:"r,omitzero"`
	}{}); string(b) != "{}" {
		t.Errorf("empty Recent encodes as %s", b)
	}
}
