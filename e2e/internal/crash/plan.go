package crash

import (
	"math/rand"
	"sort"
	"time"
)

// Op is one step of the feed: append Data to File (relative to HOME), or
// send Hook through the hook binary; Pause is slept first.
type Op struct {
	Session string
	File    string
	Data    []byte
	Hook    []byte
	Name    string // hook event name
	Pause   time.Duration
}

// PlanOptions shape the schedule.
type PlanOptions struct {
	MaxChunkLines int           // lines per append, 1..Max (default 6)
	SplitLine     float64       // probability that an append ends inside a line (default 0.25)
	MaxPause      time.Duration // random pause before each op, 0..Max (default 8ms)
}

// Plan turns sessions into one interleaved schedule of ops, fully decided by
// rng: chunk sizes, lines split across two writes, interleaving of sessions,
// pauses. The same seed gives the same schedule.
func Plan(sessions []*Session, rng *rand.Rand, o PlanOptions) []Op {
	if o.MaxChunkLines <= 0 {
		o.MaxChunkLines = 6
	}
	if o.SplitLine == 0 {
		o.SplitLine = 0.25
	}
	if o.MaxPause == 0 {
		o.MaxPause = 8 * time.Millisecond
	}
	per := make([][]Op, len(sessions))
	for si, s := range sessions {
		var ops []Op
		extras := make([]string, 0, len(s.Extra))
		for f := range s.Extra {
			extras = append(extras, f)
		}
		sort.Strings(extras)
		for _, f := range extras {
			ops = append(ops, Op{Session: s.ID, File: f, Data: s.Extra[f]})
		}
		hi := 0
		emitHooks := func(upto int) {
			for hi < len(s.Hooks) && s.Hooks[hi].At <= upto {
				ops = append(ops, Op{Session: s.ID, Hook: s.Hooks[hi].Payload, Name: s.Hooks[hi].Name})
				hi++
			}
		}
		emitHooks(0)
		i := 0
		for i < len(s.Lines) {
			file := s.Lines[i].File
			n := 1 + rng.Intn(o.MaxChunkLines)
			// A chunk stays in one file and ends at the next hook position.
			limit := len(s.Lines)
			if hi < len(s.Hooks) && s.Hooks[hi].At > i {
				limit = s.Hooks[hi].At
			}
			var data []byte
			j := i
			for j < limit && j < i+n && s.Lines[j].File == file {
				data = append(data, s.Lines[j].Data...)
				data = append(data, '\n')
				j++
			}
			// Sometimes end the write inside the next line of the same file;
			// its rest is this session's next op (never across a hook, so
			// every line a hook follows is complete when the hook fires).
			if j < limit && s.Lines[j].File == file && rng.Float64() < o.SplitLine && len(s.Lines[j].Data) > 1 {
				cut := 1 + rng.Intn(len(s.Lines[j].Data)-1)
				data = append(data, s.Lines[j].Data[:cut]...)
				rest := append(append([]byte(nil), s.Lines[j].Data[cut:]...), '\n')
				ops = append(ops, Op{Session: s.ID, File: file, Data: data})
				ops = append(ops, Op{Session: s.ID, File: file, Data: rest})
				j++
			} else {
				ops = append(ops, Op{Session: s.ID, File: file, Data: data})
			}
			i = j
			emitHooks(i)
		}
		emitHooks(len(s.Lines) + 1)
		per[si] = ops
	}
	// Interleave sessions at random, each keeping its order.
	var out []Op
	idx := make([]int, len(per))
	for {
		var live []int
		for si := range per {
			if idx[si] < len(per[si]) {
				live = append(live, si)
			}
		}
		if len(live) == 0 {
			break
		}
		si := live[rng.Intn(len(live))]
		op := per[si][idx[si]]
		idx[si]++
		op.Pause = time.Duration(rng.Int63n(int64(o.MaxPause) + 1))
		out = append(out, op)
	}
	return out
}
