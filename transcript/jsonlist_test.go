package transcript

import (
	"errors"
	"slices"
	"testing"
)

func TestDecodeFirst(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []int
		more bool
		err  bool
	}{
		{`[1,2,3]`, []int{1, 2, 3}, false, false},
		{`[1,2,3,4,5]`, []int{1, 2, 3}, true, false},
		{`null`, nil, false, false},
		{`[]`, nil, false, false},
		{`[1,"x",3]`, []int{1}, false, true},
		{`{"a":1}`, nil, false, true},
	} {
		got, more, err := DecodeFirst[int]([]byte(tt.in), 3)
		if !slices.Equal(got, tt.want) || more != tt.more || (err != nil) != tt.err {
			t.Errorf("%s: %v more %v err %v; want %v more %v err %v", tt.in, got, more, err, tt.want, tt.more, tt.err)
		}
	}
	if _, _, err := DecodeFirst[int]([]byte(`"text"`), 3); !errors.Is(err, ErrNotAList) {
		t.Errorf("a string: %v, want ErrNotAList", err)
	}
}
