package serve

import (
	"context"
	"math"
	"sort"

	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/models"
)

// seq is one sequence (one choice of one prompt) the scheduler runs.
type seq struct {
	ctx       context.Context
	choice    int // index in the request's choices
	prompt    []int
	maxTokens int
	sampler   *models.Sampler
	stopIDs   []int
	topN      int  // alternatives per position in logprobs (0: logprobs off)
	logprobs  bool // report logprobs of the sampled tokens
	echo      bool // report the prompt's logprobs first
	out       chan<- event

	state *models.State
	last  int // the token to feed next (after prefill)
	n     int // tokens generated
}

// reserve is the KV positions the sequence holds at most.
func (q *seq) reserve() int { return len(q.prompt) + q.maxTokens }

// tokenLP is one token's log-probability and its most likely alternatives.
type tokenLP struct {
	ID      int
	LogProb float64
	Top     []altLP
}

// altLP is one alternative token and its log-probability.
type altLP struct {
	ID      int
	LogProb float64
}

// event is what the scheduler sends a request's handler: the prompt's
// logprobs (echo, first event only), then one generated token per event;
// finish, when set, ends the choice ("length" or "stop"); err ends it with
// a failure.
type event struct {
	choice int
	prompt []tokenLP // echo: the prompt's tokens; the first has no logprob
	token  *tokenLP  // nil when the choice ends without a new token
	finish string
	err    error
}

// loop is the scheduler: the one goroutine that owns the Batch and every
// sequence's state. Between forward steps it admits queued sequences (up
// to MaxSeqs running and MaxKVTokens reserved positions), drops those whose
// request ended (client gone, stop string found), and runs one batched
// step: the prompts of newly admitted sequences and one token of every
// running one. When no sequence runs it drops the batch's scratch before it
// waits for the next request.
func (s *Server) loop() {
	defer close(s.done)
	batch, used := s.model.NewBatch(), false
	var active []*seq
	var waiting *seq // dequeued but not yet fitting the KV budget
	reserved := 0
	vocab := s.model.Config.Vocab
	for {
		select {
		case <-s.stop:
			for _, q := range active {
				q.out <- event{choice: q.choice, err: errClosed}
			}
			s.failQueued(waiting)
			return
		default:
		}
		// Admit.
		for len(active) < s.cfg.MaxSeqs {
			if waiting == nil {
				if len(active) == 0 {
					if used {
						// Idle: let the scratch of the last burst go (its
						// rows grow with the prompts prefilled together, up
						// to MaxKVTokens), so an idle server holds only the model.
						batch, used = s.model.NewBatch(), false
					}
					select {
					case waiting = <-s.queue:
					case <-s.stop:
						s.failQueued(nil)
						return
					}
				} else {
					select {
					case waiting = <-s.queue:
					default:
					}
				}
			}
			if waiting == nil || reserved+waiting.reserve() > s.cfg.MaxKVTokens && len(active) > 0 {
				break
			}
			q := waiting
			waiting = nil
			if q.ctx.Err() != nil {
				s.metrics.cancelled.Add(1)
				continue
			}
			q.state = s.model.NewState(q.reserve())
			reserved += q.reserve()
			active = append(active, q)
		}
		// Drop the sequences whose request ended.
		kept := active[:0]
		for _, q := range active {
			if q.ctx.Err() != nil {
				reserved -= q.reserve()
				s.metrics.cancelled.Add(1)
				continue
			}
			kept = append(kept, q)
		}
		clear(active[len(kept):])
		active = kept
		s.metrics.running.Store(int64(len(active)))
		if len(active) == 0 {
			continue
		}
		states := make([]*models.State, len(active))
		ids := make([][]int, len(active))
		for i, q := range active {
			states[i] = q.state
			if q.state.Len() == 0 {
				ids[i] = q.prompt
			} else {
				ids[i] = []int{q.last}
			}
		}
		logits, err := batch.Append(states, ids)
		used = true
		if err != nil {
			for _, q := range active {
				q.out <- event{choice: q.choice, err: err}
				reserved -= q.reserve()
			}
			clear(active)
			active = active[:0]
			continue
		}
		kept = active[:0]
		for i, q := range active {
			rows := logits[i]
			n := len(ids[i])
			last := rows[(n-1)*vocab:]
			var ev event
			ev.choice = q.choice
			if q.n == 0 && q.echo {
				ev.prompt = promptLogprobs(q.prompt, rows, vocab, q.topN)
			}
			if q.maxTokens > 0 {
				id := q.sampler.Pick(last)
				q.n++
				q.last = id
				t := tokenLP{ID: id}
				if q.logprobs {
					t = logprobOf(last, id, q.topN)
				}
				ev.token = &t
				switch {
				case containsInt(q.stopIDs, id):
					ev.finish = "stop"
				case q.n >= q.maxTokens:
					ev.finish = "length"
				}
			} else {
				ev.finish = "length"
			}
			s.metrics.genTokens.Add(boolInt(ev.token != nil))
			q.out <- ev
			if ev.finish != "" {
				reserved -= q.reserve()
				continue
			}
			kept = append(kept, q)
		}
		clear(active[len(kept):])
		active = kept
		s.metrics.running.Store(int64(len(active)))
	}
}

// failQueued ends, with errClosed, the sequences that never joined the
// batch (waiting and the queue's) once the scheduler stops.
func (s *Server) failQueued(waiting *seq) {
	if waiting != nil {
		waiting.out <- event{choice: waiting.choice, err: errClosed}
	}
	for {
		select {
		case q := <-s.queue:
			q.out <- event{choice: q.choice, err: errClosed}
		default:
			return
		}
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// promptLogprobs returns, for every prompt token, its log-probability given
// the tokens before it (rows holds the logits after each prompt token); the
// first token has none (NaN).
func promptLogprobs(prompt []int, rows []float32, vocab, topN int) []tokenLP {
	out := make([]tokenLP, len(prompt))
	out[0] = tokenLP{ID: prompt[0], LogProb: math.NaN()}
	for j := 1; j < len(prompt); j++ {
		out[j] = logprobOf(rows[(j-1)*vocab:j*vocab], prompt[j], topN)
	}
	return out
}

// logprobOf returns log softmax(logits)[id] and the topN most likely tokens.
func logprobOf(logits []float32, id, topN int) tokenLP {
	m, sum := kernels.ExpSum(logits)
	lse := float64(m) + math.Log(sum)
	t := tokenLP{ID: id, LogProb: float64(logits[id]) - lse}
	if topN > 0 {
		t.Top = topK(logits, topN, lse)
	}
	return t
}

// topK returns the k largest logits as log-probabilities, most likely first
// (ties by lower id).
func topK(logits []float32, k int, lse float64) []altLP {
	best := make([]altLP, 0, k+1)
	for i, v := range logits {
		if len(best) == k && float64(v) <= best[k-1].LogProb {
			continue
		}
		j := sort.Search(len(best), func(j int) bool { return best[j].LogProb < float64(v) })
		best = append(best, altLP{})
		copy(best[j+1:], best[j:])
		best[j] = altLP{ID: i, LogProb: float64(v)}
		if len(best) > k {
			best = best[:k]
		}
	}
	for i := range best {
		best[i].LogProb -= lse
	}
	return best
}
