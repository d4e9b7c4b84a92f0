// Package evalmodel adapts a models.Model to the eval package's LM
// interface (eval itself depends on no model code).
package evalmodel

import (
	"github.com/llmcbench/gollm/eval"
	"github.com/llmcbench/gollm/models"
)

// LM wraps a model for eval.
type LM struct {
	M *models.Model
	// MaxLen caps the KV cache of each state (0: max_position_embeddings).
	MaxLen int
}

// New returns m as an eval.LM.
func New(m *models.Model) *LM { return &LM{M: m} }

// VocabSize returns the number of logits per position.
func (l *LM) VocabSize() int { return l.M.Config.Vocab }

// MaxContext returns max_position_embeddings (or MaxLen if smaller).
func (l *LM) MaxContext() int {
	if l.MaxLen > 0 && l.MaxLen < l.M.Config.MaxPos {
		return l.MaxLen
	}
	return l.M.Config.MaxPos
}

// NewState starts an empty KV-cache session of MaxContext positions.
func (l *LM) NewState() eval.State { return l.M.NewState(l.MaxContext()) }

var _ eval.LM = (*LM)(nil)
