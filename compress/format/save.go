package format

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/llmcbench/gollm/internal/outdir"
	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/models/packed"
	"github.com/llmcbench/gollm/tensor"
)

// ErrBadSave marks bad SaveOptions or a model that cannot be saved in the
// requested format (wrapped with the reason).
var ErrBadSave = errors.New("cannot save")

// Formats Save writes.
const (
	FormatDense    = "dense" // float weights (pruned or not) + sparsity metadata
	FormatGPTQ     = "gptq"  // AutoGPTQ packing
	FormatAWQ      = "awq"   // AutoAWQ gemm packing
	FormatW8A8     = "w8a8"  // compressed-tensors int-quantized, dynamic per-token activations
	FormatSparse24 = "2:4"   // compressed-tensors sparse-24-bitmask
)

// SaveOptions control Save.
type SaveOptions struct {
	// Format is FormatDense, FormatGPTQ, FormatAWQ, FormatW8A8 or
	// FormatSparse24 ("dense" | "gptq" | "awq" | "w8a8" | "2:4").
	Format string
	// Quant maps models.Linear.Name to the layer's quantized weights (gptq,
	// awq, w8a8; nil for dense and 2:4). Every decoder-block linear must be
	// quantized, here or because the model was loaded quantized; layers
	// outside the blocks (the LM head) stay float.
	Quant map[string]*packed.Quantized
	// Meta is recorded verbatim under config.json's "gollm_compression"
	// key (the method configuration). For gptq, its damp_percent,
	// true_sequential and static_groups entries also go into
	// quantization_config.
	Meta map[string]any
	// DType is the float dtype of the float tensors written (embeddings,
	// norms, float linear weights, biases, 2:4 values); Invalid (the zero
	// value) keeps each tensor's checkpoint dtype (the model's dtype for
	// new tensors). GPTQ/AWQ scales are always float16 and W8A8 scales
	// float32, as those formats store them.
	DType tensor.DType
	// Tensors replaces the values of non-linear checkpoint tensors (e.g.
	// norms with folded SmoothQuant/AWQ scales), by checkpoint name; each
	// keeps its checkpoint shape and dtype (or DType).
	Tensors map[string][]float32
	// ShardBytes caps each safetensors file (default 4 GiB); more go into
	// model-0000i-of-0000n.safetensors with an index.
	ShardBytes int64
	// Overlay holds the float weights (and biases) of block linears that
	// are no longer resident: the compression engine writes each finished
	// block there (WriteSpill) and releases it, so only one block is in
	// memory. For a non-resident block, a linear whose weight is in
	// Overlay is written from it (packed as 2:4 for that format) instead
	// of from the model's checkpoint. Dense and 2:4 formats only.
	Overlay *tensor.Checkpoint
}

// linearSuffixes are the tensor names a linear layer may own in any format.
var linearSuffixes = []string{".weight", ".bias", ".qweight", ".qzeros", ".scales", ".g_idx",
	".weight_scale", ".weight_zero_point", ".weight_packed", ".weight_shape", ".weight_g_idx",
	".compressed", ".bitmask", ".shape", ".row_offsets", ".input_scale"}

// saveLinear is one linear layer as Save sees it.
type saveLinear struct {
	name   string
	layer  int
	out    int
	in     int
	host   kernels.Matrix // nil for blocks not resident in a lazy model
	bias   []float32
	quant  *packed.Quantized
	sparse bool // write as 2:4
}

// saver carries one Save call.
type saver struct {
	m       *models.Model
	ck      *tensor.Checkpoint
	opt     SaveOptions
	zeroOff int // GPTQ: 1 (zero − 1) or 0 (gptq_v2)
	// groupSize is the quantization_config group size (−1: one group).
	groupSize int
	// sparsity statistics (dense and 2:4)
	zeros, total int64
	layerSparse  map[string]float64
	all24        bool
	shardWriter  // output
}

// shardWriter writes a folder's safetensors weights: one
// model.safetensors, or model-0000i-of-0000n.safetensors with an index
// above limit bytes a shard. Each shard is written under a temporary name
// and renamed when all are complete (finish), so a weight file never
// appears half-written.
type shardWriter struct {
	dir       string
	limit     int64
	shard     []*tensor.Tensor
	shardSize int64
	shards    [][]string // tensor names per shard file
	written   map[string]bool
}

// Save writes m to dir as a Hugging Face folder in opt.Format: config.json
// (the original plus quantization_config, and a "gollm_compression" record
// of opt.Meta and sparsity statistics), safetensors weights (sharded above
// opt.ShardBytes), AutoGPTQ's quantize_config.json for gptq, and every
// other file of the model's folder (tokenizer, generation config). Every
// non-linear tensor is copied from m.Checkpoint() (replaced by opt.Tensors
// where given); unchanged float tensors are copied byte for byte. Linear
// layers are written from their current weights: packed from opt.Quant (or
// from a packed weight the model was loaded with) for gptq/awq/w8a8,
// packed as 2:4 for "2:4" (an error if a block's weight is not 2:4), float
// otherwise. Blocks of a lazy model that are not resident are read from the
// checkpoint. Everything is checked before dir is touched; dir is created
// if missing, must not be the model's own folder and must not hold
// safetensors weights already (Save never deletes a file).
func Save(m *models.Model, dir string, opt SaveOptions) error {
	s, lins, err := planSave(m, dir, opt)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save %s: %w", dir, err)
	}
	if err := s.writeTensors(lins); err != nil {
		return err
	}
	if err := s.writeConfig(lins); err != nil {
		return err
	}
	return copyFiles(s.m.Dir, dir)
}

// WriteFolder writes a Hugging Face folder from tensors the caller built,
// for a method that changes the model's shapes (LLM-Pruner), through Save's
// writers: ts, in order, as model.safetensors (sharded as Save shards them
// above shardBytes; ≤ 0: 4 GiB a shard), cfg as config.json (indented JSON
// and a newline, as Save writes it), and every other file of the folder src
// (tokenizer, generation config) copied as Save copies them. dir must
// exist. Weight files and config.json already in dir are replaced, each in
// one rename, so a method may rewrite its own output in place (src "": no
// files copied). Unlike Save, WriteFolder neither checks nor transforms ts.
func WriteFolder(dir, src string, ts []*tensor.Tensor, cfg any, shardBytes int64) error {
	w := newShardWriter(dir, shardBytes)
	for _, t := range ts {
		if err := w.add(t); err != nil {
			return err
		}
	}
	if err := w.finish(); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "config.json"), cfg); err != nil {
		return err
	}
	return copyFiles(src, dir)
}

// WriteSpill writes the float weights and biases of block i's linears to
// path (one safetensors file), each weight in the dtype Save would write it
// in, so that Save with the spill files as Overlay writes the same bytes as
// Save of the resident block. The engine then releases the block.
func WriteSpill(m *models.Model, i int, path string, dtype tensor.DType) error {
	ck := m.Checkpoint()
	if ck == nil {
		return fmt.Errorf("spill block %d: the model has no checkpoint", i)
	}
	s := &saver{m: m, ck: ck, opt: SaveOptions{DType: dtype}}
	var ts []*tensor.Tensor
	for _, l := range m.Linears(i) {
		out, in := l.Host.Dims()
		t, err := s.floatTensor(l.Name+".weight", []int{out, in}, packed.Weights(l.Host))
		if err != nil {
			return fmt.Errorf("spill %s: %w", l.Name, err)
		}
		ts = append(ts, t)
		if l.Bias != nil {
			b, err := s.floatTensor(l.Name+".bias", []int{out}, l.Bias)
			if err != nil {
				return fmt.Errorf("spill %s: %w", l.Name, err)
			}
			ts = append(ts, b)
		}
	}
	return tensor.WriteFile(path, ts, map[string]string{"format": "pt"})
}

// planSave checks everything Save needs before anything is written.
func planSave(m *models.Model, dir string, opt SaveOptions) (*saver, []*saveLinear, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("save %s: %w: %s", dir, ErrBadSave, fmt.Sprintf(format, a...))
	}
	switch opt.Format {
	case FormatDense, FormatGPTQ, FormatAWQ, FormatW8A8, FormatSparse24:
	default:
		return nil, nil, bad("format %q (want dense, gptq, awq, w8a8 or 2:4)", opt.Format)
	}
	ck := m.Checkpoint()
	if ck == nil {
		return nil, nil, bad("the model has no checkpoint to copy from (built from a config)")
	}
	if opt.DType != tensor.Invalid && !opt.DType.IsFloat() {
		return nil, nil, bad("dtype %s is not a float type", opt.DType)
	}
	if same, err := sameDir(dir, m.Dir); err != nil {
		return nil, nil, fmt.Errorf("save %s: %w", dir, err)
	} else if same {
		return nil, nil, bad("the output folder is the model's own folder (its checkpoint is memory-mapped)")
	}
	// Save deletes nothing: a folder that already holds weights would end
	// with two checkpoints' shards mixed (compress writes into a fresh
	// staging folder, see internal/outdir).
	if old := weightFiles(dir); len(old) > 0 {
		return nil, nil, bad("the folder already holds weights (%s): save into a new or empty folder", strings.Join(old, ", "))
	}
	quantized := opt.Format == FormatGPTQ || opt.Format == FormatAWQ || opt.Format == FormatW8A8
	if !quantized && len(opt.Quant) > 0 {
		return nil, nil, bad("quantized layers given for format %q", opt.Format)
	}
	if quantized && opt.Overlay != nil {
		return nil, nil, bad("spilled float blocks given for format %q", opt.Format)
	}
	s := &saver{m: m, ck: ck, opt: opt, zeroOff: 1, groupSize: -1, layerSparse: map[string]float64{}, all24: true, shardWriter: newShardWriter(dir, opt.ShardBytes)}

	// The linear layers, block by block (blocks of a lazy model that are
	// not resident are loaded briefly to learn their layers).
	var lins []*saveLinear
	seen := map[string]*saveLinear{}
	for i := -1; i < m.NumLayers(); i++ {
		resident := i < 0 || m.BlockLoaded(i)
		if !resident {
			if err := m.LoadBlock(i); err != nil {
				return nil, nil, err
			}
		}
		for _, l := range m.Linears(i) {
			out, in := l.Host.Dims()
			sl := &saveLinear{name: l.Name, layer: l.Layer, out: out, in: in}
			if resident {
				sl.host, sl.bias = l.Host, l.Bias
			}
			if _, dup := seen[l.Name]; dup {
				return nil, nil, bad("linear %q listed twice", l.Name)
			}
			seen[l.Name] = sl
			lins = append(lins, sl)
		}
		if !resident {
			m.ReleaseBlock(i)
		}
	}
	for name, q := range opt.Quant {
		sl, ok := seen[name]
		switch {
		case !ok:
			return nil, nil, bad("quantized layer %q is not a linear layer of the model", name)
		case sl.layer < 0:
			return nil, nil, bad("quantized layer %q is outside the decoder blocks (only block linears are quantized)", name)
		case q == nil:
			return nil, nil, bad("quantized layer %q is nil", name)
		case q.Out != sl.out || q.In != sl.in:
			return nil, nil, bad("quantized layer %q is %d×%d, the model's is %d×%d", name, q.Out, q.In, sl.out, sl.in)
		}
		if err := q.Validate(); err != nil {
			return nil, nil, fmt.Errorf("save %s: layer %q: %w", dir, name, err)
		}
		sl.quant = q
	}
	if quantized {
		var first *packed.Quantized
		for _, sl := range lins {
			if sl.layer < 0 {
				continue
			}
			if sl.quant == nil && sl.host != nil {
				sl.quant, _ = packed.FromMatrix(sl.host)
			}
			if sl.quant == nil {
				return nil, nil, bad("block linear %q has no quantized weights for format %s", sl.name, opt.Format)
			}
			q := sl.quant
			var err error
			switch opt.Format {
			case FormatGPTQ:
				err = packed.CheckGPTQ(q)
				if err == nil && packed.GPTQNeedsV2(q) {
					s.zeroOff = 0
				}
			case FormatAWQ:
				err = packed.CheckAWQ(q)
			case FormatW8A8:
				err = q.CheckW8A8()
			}
			if err != nil {
				return nil, nil, fmt.Errorf("save %s: layer %q: %w", dir, sl.name, err)
			}
			if first == nil {
				first = q
			} else if q.Bits != first.Bits {
				return nil, nil, bad("layers mix bit widths (%q: %d bits, %d elsewhere): one quantization_config describes every layer", sl.name, q.Bits, first.Bits)
			}
			if g := q.ConfigGroupSize(); g > 0 {
				if s.groupSize > 0 && g != s.groupSize {
					return nil, nil, bad("layers mix group sizes (%q: %d, %d elsewhere): one quantization_config describes every layer", sl.name, g, s.groupSize)
				}
				s.groupSize = g
			}
		}
		// Layers with one group per row agree with the config's group size
		// only if it gives them one group too.
		for _, sl := range lins {
			if sl.layer >= 0 && s.groupSize > 0 && sl.quant.ConfigGroupSize() < 0 && sl.in > s.groupSize {
				return nil, nil, bad("layer %q has one group per row, the others groups of %d: one quantization_config describes every layer", sl.name, s.groupSize)
			}
		}
	}
	if opt.Format == FormatSparse24 {
		for _, sl := range lins {
			if sl.layer >= 0 {
				if sl.in%4 != 0 {
					return nil, nil, bad("layer %q: in = %d is not a multiple of 4 for 2:4", sl.name, sl.in)
				}
				sl.sparse = true
			}
		}
	}
	// Overrides must name non-linear float tensors of the checkpoint.
	for name, v := range opt.Tensors {
		info, ok := ck.Info(name)
		if !ok {
			return nil, nil, bad("replacement tensor %q is not in the checkpoint", name)
		}
		if s.ownedByLinear(name, lins) {
			return nil, nil, bad("replacement tensor %q belongs to a linear layer (use the model's weights or Quant)", name)
		}
		if !info.DType.IsFloat() || tensor.Numel(info.Shape) != len(v) {
			return nil, nil, bad("replacement tensor %q: %d values for %s%v", name, len(v), info.DType, info.Shape)
		}
	}
	return s, lins, nil
}

// weightFiles lists the safetensors weights (and index) already in dir.
func weightFiles(dir string) []string {
	var w []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".safetensors") || strings.HasSuffix(n, ".safetensors.index.json") {
			w = append(w, n)
		}
	}
	return w
}

// sameDir reports whether a and b name the same existing folder.
func sameDir(a, b string) (bool, error) {
	if b == "" {
		return false, nil
	}
	fa, err := os.Stat(a)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, nil
	}
	return os.SameFile(fa, fb), nil
}

func (s *saver) ownedByLinear(name string, lins []*saveLinear) bool {
	for _, l := range lins {
		if strings.HasPrefix(name, l.name+".") {
			for _, suf := range linearSuffixes {
				if name == l.name+suf {
					return true
				}
			}
		}
	}
	return false
}

// floatDType is the dtype to write a float tensor that had dtype orig
// (Invalid: a new tensor).
func (s *saver) floatDType(orig tensor.DType) tensor.DType {
	switch {
	case s.opt.DType != tensor.Invalid:
		return s.opt.DType
	case orig.IsFloat():
		return orig
	case s.m.Config.DType.IsFloat():
		return s.m.Config.DType
	}
	return tensor.F32
}

// writeTensors writes every tensor, linears first, in shards.
func (s *saver) writeTensors(lins []*saveLinear) error {
	for _, l := range lins {
		ts, err := s.linearTensors(l)
		if err != nil {
			return fmt.Errorf("save %s: layer %q: %w", s.dir, l.name, err)
		}
		for _, t := range ts {
			if err := s.add(t); err != nil {
				return err
			}
		}
	}
	for _, name := range s.ck.Names() {
		if s.written[name] || s.ownedByLinear(name, lins) {
			continue
		}
		t, err := s.ck.Tensor(name)
		if err != nil {
			return err
		}
		if v, ok := s.opt.Tensors[name]; ok {
			if t, err = tensor.Encode(name, s.floatDType(t.DType), t.Shape, v); err != nil {
				return err
			}
		} else if t.DType.IsFloat() && s.floatDType(t.DType) != t.DType {
			f, err := t.Float32()
			if err != nil {
				return err
			}
			if t, err = tensor.Encode(name, s.floatDType(t.DType), t.Shape, f); err != nil {
				return err
			}
		}
		if err := s.add(t); err != nil {
			return err
		}
	}
	return s.finish()
}

// linearTensors returns the tensors of one linear layer.
func (s *saver) linearTensors(l *saveLinear) ([]*tensor.Tensor, error) {
	var ts []*tensor.Tensor
	var err error
	switch {
	case l.quant != nil && l.layer >= 0:
		switch s.opt.Format {
		case FormatGPTQ:
			ts, err = packed.GPTQTensors(l.name, l.quant, s.zeroOff)
		case FormatAWQ:
			ts, err = packed.AWQTensors(l.name, l.quant)
		case FormatW8A8:
			ts, err = packed.W8A8Tensors(l.name, l.quant)
		}
		if err != nil {
			return nil, err
		}
	case l.host == nil && s.opt.Overlay != nil && s.opt.Overlay.Has(l.name+".weight"):
		// A finished block the engine spilled: its weights as compressed.
		t, err := s.opt.Overlay.Tensor(l.name + ".weight")
		if err != nil {
			return nil, err
		}
		if !slices.Equal(t.Shape, []int{l.out, l.in}) {
			return nil, fmt.Errorf("spilled weight is %v, the layer is %d×%d", t.Shape, l.out, l.in)
		}
		w, err := t.Float32()
		if err != nil {
			return nil, err
		}
		if l.layer >= 0 {
			s.countZeros(l, w)
		}
		if l.sparse {
			sp, err := packed.PackSparse24(l.out, l.in, w)
			if err != nil {
				return nil, err
			}
			if ts, err = packed.Sparse24Tensors(l.name, sp, s.floatDType(s.origDType(l.name+".weight"))); err != nil {
				return nil, err
			}
		} else {
			if t, err = s.floatTensor(l.name+".weight", []int{l.out, l.in}, w); err != nil {
				return nil, err
			}
			ts = append(ts, t)
		}
		if s.opt.Overlay.Has(l.name + ".bias") {
			b, err := s.opt.Overlay.Tensor(l.name + ".bias")
			if err != nil {
				return nil, err
			}
			bv, err := b.Float32()
			if err != nil {
				return nil, err
			}
			if b, err = s.floatTensor(l.name+".bias", []int{l.out}, bv); err != nil {
				return nil, err
			}
			ts = append(ts, b)
		}
		return ts, nil
	case l.host == nil:
		// A block that was not resident: as in the checkpoint.
		for _, suf := range linearSuffixes {
			if s.ck.Has(l.name + suf) {
				t, err := s.ck.Tensor(l.name + suf)
				if err != nil {
					return nil, err
				}
				ts = append(ts, t)
			}
		}
		return ts, nil
	case l.sparse:
		w := packed.Weights(l.host)
		s.countZeros(l, w)
		sp, ok := l.host.(*kernels.Sparse24Matrix)
		if !ok {
			if sp, err = packed.PackSparse24(l.out, l.in, w); err != nil {
				return nil, err
			}
		}
		if ts, err = packed.Sparse24Tensors(l.name, sp, s.floatDType(s.origDType(l.name+".weight"))); err != nil {
			return nil, err
		}
	default:
		w := packed.Weights(l.host)
		if l.layer >= 0 {
			s.countZeros(l, w)
		}
		t, err := s.floatTensor(l.name+".weight", []int{l.out, l.in}, w)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	if l.host == nil && s.ck.Has(l.name+".bias") { // quantized, not resident
		t, err := s.ck.Tensor(l.name + ".bias")
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	} else if l.bias != nil {
		t, err := s.floatTensor(l.name+".bias", []int{l.out}, l.bias)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// origDType is the checkpoint dtype of name (Invalid if absent).
func (s *saver) origDType(name string) tensor.DType {
	if info, ok := s.ck.Info(name); ok {
		return info.DType
	}
	return tensor.Invalid
}

// floatTensor encodes v as name, copying the checkpoint's bytes instead
// when the checkpoint holds exactly these values (so untouched weights are
// written byte for byte).
func (s *saver) floatTensor(name string, shape []int, v []float32) (*tensor.Tensor, error) {
	orig := s.origDType(name)
	dt := s.floatDType(orig)
	if orig == dt && orig.IsFloat() {
		t, err := s.ck.Tensor(name)
		if err != nil {
			return nil, err
		}
		if slices.Equal(t.Shape, shape) {
			f, err := t.Float32()
			if err != nil {
				return nil, err
			}
			if sameBits(f, v) {
				return t, nil
			}
		}
	}
	return tensor.Encode(name, dt, shape, v)
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// countZeros records a block linear's sparsity and whether it is 2:4.
func (s *saver) countZeros(l *saveLinear, w []float32) {
	var z int64
	for _, v := range w {
		if v == 0 {
			z++
		}
	}
	s.zeros += z
	s.total += int64(len(w))
	s.layerSparse[l.name] = float64(z) / float64(max(1, len(w)))
	if s.all24 {
		if l.in%4 != 0 {
			s.all24 = false
			return
		}
		for g := 0; g+4 <= len(w); g += 4 {
			n := 0
			for _, v := range w[g : g+4] {
				if v != 0 {
					n++
				}
			}
			if n > 2 {
				s.all24 = false
				return
			}
		}
	}
}

// newShardWriter returns a shardWriter into dir (limit ≤ 0: 4 GiB a shard).
func newShardWriter(dir string, limit int64) shardWriter {
	if limit <= 0 {
		limit = 4 << 30
	}
	return shardWriter{dir: dir, limit: limit, written: map[string]bool{}}
}

// add appends t to the current shard, flushing it first when t would push
// it past the limit.
func (s *shardWriter) add(t *tensor.Tensor) error {
	if s.written[t.Name] {
		return fmt.Errorf("save %s: tensor %q written twice", s.dir, t.Name)
	}
	s.written[t.Name] = true
	n := int64(len(t.Data))
	if len(s.shard) > 0 && s.shardSize+n > s.limit {
		if err := s.flush(); err != nil {
			return err
		}
	}
	s.shard = append(s.shard, t)
	s.shardSize += n
	return nil
}

func (s *shardWriter) shardTemp(i int) string {
	return filepath.Join(s.dir, fmt.Sprintf(".gollm-shard-%05d.tmp", i+1))
}

func (s *shardWriter) flush() error {
	if len(s.shard) == 0 {
		return nil
	}
	i := len(s.shards)
	if err := tensor.WriteFile(s.shardTemp(i), s.shard, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	names := make([]string, len(s.shard))
	for j, t := range s.shard {
		names[j] = t.Name
	}
	s.shards = append(s.shards, names)
	s.shard, s.shardSize = nil, 0
	return nil
}

// finish writes the last shard and gives the shards their final names
// (model.safetensors, or model-0000i-of-0000n.safetensors with an index).
func (s *shardWriter) finish() error {
	if err := s.flush(); err != nil {
		return err
	}
	n := len(s.shards)
	if n == 1 {
		return os.Rename(s.shardTemp(0), filepath.Join(s.dir, "model.safetensors"))
	}
	weightMap := map[string]string{}
	var total int64
	for i, names := range s.shards {
		file := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, n)
		if err := os.Rename(s.shardTemp(i), filepath.Join(s.dir, file)); err != nil {
			return err
		}
		if fi, err := os.Stat(filepath.Join(s.dir, file)); err == nil {
			total += fi.Size()
		}
		for _, name := range names {
			weightMap[name] = file
		}
	}
	idx := map[string]any{"metadata": map[string]any{"total_size": total}, "weight_map": weightMap}
	return writeJSON(filepath.Join(s.dir, "model.safetensors.index.json"), idx)
}

// ignoreList names the float linears outside the blocks as Hugging Face
// modules (a tied head is the module lm_head).
func ignoreList(lins []*saveLinear) []string {
	ig := []string{}
	for _, l := range lins {
		if l.layer >= 0 {
			continue
		}
		name := l.name
		if strings.HasSuffix(name, "embed_tokens") {
			name = "lm_head"
		}
		ig = append(ig, name)
	}
	sort.Strings(ig)
	return ig
}

// writeConfig writes config.json (and quantize_config.json for gptq).
func (s *saver) writeConfig(lins []*saveLinear) error {
	raw := map[string]json.RawMessage{}
	src := filepath.Join(s.m.Dir, "config.json")
	if b, err := os.ReadFile(src); err == nil {
		if err := json.Unmarshal(b, &raw); err != nil {
			return fmt.Errorf("save %s: config %s: %w", s.dir, src, err)
		}
	} else {
		for k, v := range s.m.Config.Raw {
			raw[k] = v
		}
	}
	cfg := map[string]any{}
	for k, v := range raw {
		cfg[k] = v
	}
	delete(cfg, "quantization_config")
	delete(cfg, "compression_config")
	if s.opt.DType != tensor.Invalid {
		names := map[tensor.DType]string{tensor.F32: "float32", tensor.F16: "float16", tensor.BF16: "bfloat16", tensor.F64: "float64"}
		if n, ok := names[s.opt.DType]; ok {
			cfg["torch_dtype"] = n
		}
	}
	rec := map[string]any{"format": s.opt.Format}
	if len(s.opt.Meta) > 0 {
		rec["meta"] = s.opt.Meta
	}
	var first *packed.Quantized
	descAct, sym := false, true
	for _, l := range lins {
		if l.quant == nil || l.layer < 0 {
			continue
		}
		if first == nil {
			first = l.quant
		}
		descAct = descAct || l.quant.ActOrder()
		sym = sym && l.quant.Sym
	}
	switch s.opt.Format {
	case FormatGPTQ:
		qc := packed.GPTQConfig(first.Bits, s.groupSize, descAct, sym, s.zeroOff == 0, s.opt.Meta)
		cfg["quantization_config"] = qc
		if err := writeJSON(filepath.Join(s.dir, "quantize_config.json"), qc); err != nil {
			return err
		}
	case FormatAWQ:
		cfg["quantization_config"] = packed.AWQConfig(s.groupSize)
	case FormatW8A8:
		cfg["quantization_config"] = packed.W8A8Config(ignoreList(lins))
	case FormatSparse24:
		cfg["quantization_config"] = packed.Sparse24Config(ignoreList(lins), s.sparsity())
	}
	if s.opt.Format == FormatDense || s.opt.Format == FormatSparse24 {
		pattern := "unstructured"
		if s.all24 && s.total > 0 {
			pattern = "2:4"
		}
		rec["sparsity"] = map[string]any{"global": s.sparsity(), "pattern": pattern, "layers": s.layerSparse}
	}
	cfg["gollm_compression"] = rec
	return writeJSON(filepath.Join(s.dir, "config.json"), cfg)
}

func (s *saver) sparsity() float64 {
	if s.total == 0 {
		return 0
	}
	return float64(s.zeros) / float64(s.total)
}

// copyFiles copies every other file of the folder src (tokenizer,
// generation config, remote code) into dir, leaving weights and configs
// alone; src "" copies nothing.
func copyFiles(src, dir string) error {
	if src == "" {
		return nil
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("save %s: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || skipCopy(name) {
			continue
		}
		if err := outdir.CopyFile(filepath.Join(src, name), filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("save %s: %w", dir, err)
		}
	}
	return nil
}

// skipCopy reports the files Save writes itself or must not carry over.
func skipCopy(name string) bool {
	switch name {
	case "config.json", "quantize_config.json", "quant_config.json", "model.safetensors.index.json",
		"pytorch_model.bin.index.json", "recipe.yaml":
		return true
	}
	for _, ext := range []string{".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".gguf", ".ckpt", ".tmp"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// writeJSON writes v to path indented by two spaces with a final newline,
// replacing any file there in one rename.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	err = outdir.WriteFile(path, func(f *os.File) error {
		_, err := f.Write(append(b, '\n'))
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
