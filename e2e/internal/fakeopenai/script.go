package fakeopenai

import (
	"strings"
	"sync"
)

// done is what a responder answers past the end of its script.
func done() Reply { return Say("Done.", Usage{InputTokens: 50, OutputTokens: 2}) }

// Steps answers by Req.Step(): replies[Step()], then "Done." — stateless,
// so it gives the same answer to a retried request and serves several
// sessions at once.
func Steps(replies ...Reply) Responder {
	return func(c *Call) Reply {
		if i := c.Req.Step(); i < len(replies) {
			return replies[i]
		}
		return done()
	}
}

// Seq answers calls with replies in the order they arrive, then "Done.".
func Seq(replies ...Reply) Responder {
	var mu sync.Mutex
	i := 0
	return func(*Call) Reply {
		mu.Lock()
		defer mu.Unlock()
		if i < len(replies) {
			i++
			return replies[i-1]
		}
		return done()
	}
}

// PromptCase is one branch of ByPrompt.
type PromptCase struct {
	Contains  string // "" matches every prompt
	Responder Responder
}

// ByPrompt picks the responder by the prompt that opened the current turn:
// the first case whose Contains is in it wins; no match answers "Done.".
func ByPrompt(cases ...PromptCase) Responder {
	return func(c *Call) Reply {
		p := c.Req.TurnPrompt()
		for _, pc := range cases {
			if strings.Contains(p, pc.Contains) {
				return pc.Responder(c)
			}
		}
		return done()
	}
}
