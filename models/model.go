package models

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/llmcbench/gollm/backend"
	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/models/packed"
	"github.com/llmcbench/gollm/tensor"
	"github.com/llmcbench/gollm/tokenizer"
)

// Linear is one linear layer of a model: its checkpoint name, its weight in
// whatever storage format it was loaded or compressed into, and its bias.
type Linear struct {
	// Name is the checkpoint prefix, e.g. "model.layers.3.self_attn.q_proj".
	Name string
	// Short is the name inside its block, e.g. "self_attn.q_proj".
	Short string
	// Layer is the decoder block index (-1 outside the blocks).
	Layer int
	// Host is the weight on the host (for compression and export).
	Host kernels.Matrix
	// Bias is the host bias, or nil.
	Bias []float32
	w, b backend.Weight
}

// Out and In return the layer's output and input widths.
func (l *Linear) Out() int { o, _ := l.Host.Dims(); return o }

// In returns the input width.
func (l *Linear) In() int { _, i := l.Host.Dims(); return i }

// LinearHook observes the input x (rows × In, row-major, in host memory)
// of a linear layer during a forward pass; compression uses it to collect
// calibration statistics. A hook is set per State (State.LinearHook,
// Batch.LinearHook), so states over one Model capture independently. x is
// only valid during the call and must not be modified.
type LinearHook func(l *Linear, x []float32, rows int)

// arch is one architecture's forward pass over its blocks.
type arch interface {
	// embed writes the input embeddings of ids (positions pos0…) into x.
	embed(s *State, x backend.Tensor, ids []int, pos0 int)
	// block runs decoder block i in place on x.
	block(s *State, i int, x backend.Tensor, pos0 int)
	// head applies the final norm/projection to x and returns the hidden
	// states that feed the LM head.
	head(s *State, x backend.Tensor) backend.Tensor
	// lmHead is the output projection.
	lmHead() *Linear
	// linears lists block i's linear layers (i = -1: those outside blocks).
	linears(i int) []*Linear
	// loadBlock builds block i's parameters; dropBlock releases them.
	loadBlock(b *builder, i int)
	dropBlock(i int)
}

// Model is a loaded causal language model.
type Model struct {
	Config  *Config
	Dir     string
	Backend backend.Backend
	arch    arch
	ck      *tensor.Checkpoint
	rope    backend.Rope
	src     source
	loaded  []bool
	tok     *tokenizer.Tokenizer
	tokErr  error
}

// Options control Load.
type Options struct {
	// Backend defaults to the CPU.
	Backend backend.Backend
	// RandomWeights builds the model from config.json alone with random
	// weights (for speed measurements where real weights are unavailable).
	RandomWeights bool
	// Seed seeds RandomWeights.
	Seed int64
	// Lazy builds only the embeddings and the head; blocks are built by
	// LoadBlock and released by ReleaseBlock, so a model larger than RAM can
	// be processed block by block from its memory-mapped checkpoint.
	Lazy bool
	// Context, if positive, is the longest sequence the caller will run:
	// the KV cache and workspace of that many positions count in the
	// memory check Load makes before allocating anything (otherwise only
	// the weights and one position's workspace do; CheckContext checks a
	// context later).
	Context int
}

// Load reads the model in dir (config.json plus safetensors weights, sharded
// or not). Weights are converted to float32 as each layer is built; the
// checkpoint stays memory-mapped and is never read whole.
func Load(dir string, opt Options) (*Model, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	if opt.Backend == nil {
		opt.Backend = backend.NewCPU()
	}
	m := &Model{Config: cfg, Dir: dir, Backend: opt.Backend}
	var src source
	if opt.RandomWeights {
		src = newRandomSource(cfg, opt.Seed)
	} else {
		ck, err := tensor.OpenCheckpoint(dir)
		if err != nil {
			return nil, err
		}
		m.ck = ck
		src = &ckSource{ck: ck, cfg: cfg}
	}
	if err := m.preflight(src, opt); err != nil {
		m.Close()
		return nil, err
	}
	if err := m.build(src, opt.Lazy); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// FromConfig builds a model with random weights from a parsed config.
func FromConfig(cfg *Config, b backend.Backend, seed int64) (*Model, error) {
	if b == nil {
		b = backend.NewCPU()
	}
	m := &Model{Config: cfg, Backend: b}
	src := newRandomSource(cfg, seed)
	if err := m.preflight(src, Options{}); err != nil {
		return nil, err
	}
	if err := m.build(src, false); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Model) build(src source, lazy bool) error {
	c := m.Config
	m.rope = backend.Rope{InvFreq: c.Rope.InvFreq(), Interleaved: c.Rope.Interleaved, Scale: 1}
	m.src = src
	m.loaded = make([]bool, c.Layers)
	for i := range m.loaded {
		m.loaded[i] = !lazy
	}
	b := &builder{m: m, src: src, lazy: lazy}
	a, err := buildArch(b)
	if err != nil {
		return err
	}
	m.arch = a
	return nil
}

func buildArch(b *builder) (arch, error) {
	c := b.m.Config
	d, ok := architectures[c.Arch]
	if !ok {
		return nil, fmt.Errorf("model %s: %w: unknown architecture %q", b.m.Dir, ErrBadModel, c.Arch)
	}
	b.arch = d
	a := d.build(b)
	return a, b.err
}

// preflight walks every parameter the build will ask for without reading
// or allocating any of it: each checkpoint tensor must exist with the shape
// and a float dtype the config implies (header only), and the weights as
// they will be held (float32 after conversion; packed formats as stored),
// plus the workspace of one position and the KV cache and workspace of
// opt.Context positions, must fit in the memory available. Hostile sizes
// thus fail with an error wrapping ErrBadModel, never with Go's fatal
// out-of-memory.
func (m *Model) preflight(src source, opt Options) error {
	c := m.Config
	if ck, ok := src.(*ckSource); ok {
		if err := ck.checkLayerCount(); err != nil {
			return err
		}
	}
	b := &builder{m: m, src: src, lazy: true, dry: true}
	a, err := buildArch(b)
	if err != nil {
		return err
	}
	outside, largest, blocks := b.bytes, 0.0, 0.0
	for i := 0; i < c.Layers; i++ {
		b.bytes = 0
		a.loadBlock(b, i)
		if b.err != nil {
			return b.err
		}
		largest = max(largest, b.bytes)
		blocks += b.bytes
	}
	n := Need{Weights: outside + blocks, Positions: max(opt.Context, 1)}
	if opt.Lazy {
		n.Weights = outside + largest // one block resident at a time
	}
	n.Workspace = c.WorkspaceBytes(n.Positions, n.Positions, n.Positions)
	if opt.Context > 0 {
		n.KV = c.KVBytes(opt.Context)
	}
	return checkFits("", n)
}

// Close releases the memory-mapped checkpoint.
func (m *Model) Close() error {
	if m.ck != nil {
		err := m.ck.Close()
		m.ck = nil
		return err
	}
	return nil
}

// Checkpoint returns the open checkpoint (nil for random weights).
func (m *Model) Checkpoint() *tensor.Checkpoint { return m.ck }

// LoadBlock builds block i's parameters if they are not resident (a no-op
// for models loaded without Options.Lazy).
func (m *Model) LoadBlock(i int) error {
	if i < 0 || i >= len(m.loaded) {
		return fmt.Errorf("load block %d: model has %d blocks", i, len(m.loaded))
	}
	if m.loaded[i] {
		return nil
	}
	b := &builder{m: m, src: m.src, arch: architectures[m.Config.Arch]}
	m.arch.loadBlock(b, i)
	if b.err != nil {
		m.arch.dropBlock(i)
		return b.err
	}
	m.loaded[i] = true
	return nil
}

// ReleaseBlock drops block i's parameters (the garbage collector then frees
// them); LoadBlock rebuilds them from the checkpoint.
func (m *Model) ReleaseBlock(i int) {
	if i >= 0 && i < len(m.loaded) && m.loaded[i] {
		m.arch.dropBlock(i)
		m.loaded[i] = false
	}
}

// BlockLoaded reports whether block i's parameters are resident.
func (m *Model) BlockLoaded(i int) bool { return i >= 0 && i < len(m.loaded) && m.loaded[i] }

// NumLayers returns the number of decoder blocks.
func (m *Model) NumLayers() int { return m.Config.Layers }

// Linears returns block i's linear layers in execution order (i = -1: the
// layers outside the blocks, such as the LM head).
// An unloaded block (lazy models) has none.
func (m *Model) Linears(i int) []*Linear {
	if i >= 0 && !m.BlockLoaded(i) {
		return nil
	}
	return m.arch.linears(i)
}

// SetWeight replaces a linear layer's weight (and bias, if non-nil) and
// uploads it to the backend.
func (m *Model) SetWeight(l *Linear, w kernels.Matrix, bias []float32) error {
	wo, wi := w.Dims()
	if wo != l.Out() || wi != l.In() {
		return fmt.Errorf("linear %s: new weight is %d×%d, want %d×%d", l.Name, wo, wi, l.Out(), l.In())
	}
	up, err := m.Backend.UploadMatrix(w)
	if err != nil {
		return err
	}
	l.Host, l.w = w, up
	if bias != nil {
		bt := tensor.FromFloat32(l.Name+".bias", []int{len(bias)}, bias)
		bw, err := m.Backend.Upload(bt)
		if err != nil {
			return err
		}
		l.Bias, l.b = bias, bw
	}
	return nil
}

// source hands out parameters by checkpoint name.
type source interface {
	tensor(name string, shape ...int) (*tensor.Tensor, error)
	has(name string) bool
	matrix(prefix string, out, in int) (kernels.Matrix, error)
	// check and checkMatrix validate what tensor and matrix would return
	// without reading or allocating it, and give the bytes it will take.
	check(name string, shape []int) (float64, error)
	checkMatrix(prefix string, out, in int) (float64, error)
}

type ckSource struct {
	ck  *tensor.Checkpoint
	cfg *Config
}

func (s *ckSource) has(name string) bool { return s.ck.Has(name) }

// check validates name's header entry against the config: present, a float
// dtype, the implied shape. It reads no data.
func (s *ckSource) check(name string, shape []int) (float64, error) {
	info, ok := s.ck.Info(name)
	if !ok {
		return 0, fmt.Errorf("model %s: tensor %q: %w: missing from the checkpoint (config.json implies it: %s)", s.ck.Dir, name, ErrBadModel, s.cfg.sizes())
	}
	if !info.DType.IsFloat() {
		return 0, fmt.Errorf("model %s: tensor %q: %w: dtype %s is not a float type", s.ck.Dir, name, ErrBadModel, info.DType)
	}
	if !slices.Equal(info.Shape, shape) {
		return 0, fmt.Errorf("model %s: tensor %q: %w: shape %v, config implies %v", s.ck.Dir, name, ErrBadModel, info.Shape, shape)
	}
	return 4 * numel(shape), nil
}

func (s *ckSource) tensor(name string, shape ...int) (*tensor.Tensor, error) {
	if _, err := s.check(name, shape); err != nil {
		return nil, err
	}
	t, err := s.ck.Tensor(name)
	if err != nil {
		return nil, err
	}
	if checkFinite {
		if i := t.NonFinite(); i >= 0 {
			return nil, s.nonFinite(t, i)
		}
	}
	return t, nil
}

// checkLayerCount refuses a checkpoint holding blocks beyond the config's
// layer count: running the first layers only would give wrong numbers
// without a word (a missing block is reported by check).
func (s *ckSource) checkLayerCount() error {
	for _, name := range s.ck.Names() {
		if i, ok := layerIndex(name); ok && i >= s.cfg.Layers {
			key := "num_hidden_layers"
			if s.cfg.Arch == "chatglm" {
				key = "num_layers"
			}
			return fmt.Errorf("config %s: %w: %s is %d, but the checkpoint holds tensor %q of layer %d", s.cfg.Path, ErrBadModel, key, s.cfg.Layers, name, i)
		}
	}
	return nil
}

// layerIndex returns N for a tensor name with a segment "layers.N."
// (model.layers.N., model.decoder.layers.N., transformer.encoder.layers.N.).
func layerIndex(name string) (int, bool) {
	for rest, off := name, 0; ; {
		j := strings.Index(rest, "layers.")
		if j < 0 {
			return 0, false
		}
		start := off + j
		rest, off = rest[j+len("layers."):], start+len("layers.")
		if start > 0 && name[start-1] != '.' {
			continue
		}
		k := 0
		for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
			k++
		}
		if k == 0 || k > 9 || k == len(rest) || rest[k] != '.' {
			continue
		}
		n, _ := strconv.Atoi(rest[:k])
		return n, true
	}
}

// CheckFinite reads every float tensor of the checkpoint in dir and
// returns an ErrBadModel error naming the first NaN or Inf weight. Load
// checks each weight as it is built; a command that loads blocks lazily
// and works for minutes before the last block (compress) calls this first,
// so a corrupt checkpoint fails before any work. It costs one read of the
// weights (memory-mapped: no copy).
func CheckFinite(dir string) error {
	ck, err := tensor.OpenCheckpoint(dir)
	if err != nil {
		return err
	}
	defer ck.Close()
	s := &ckSource{ck: ck}
	for _, name := range ck.Names() {
		if info, _ := ck.Info(name); !info.DType.IsFloat() {
			continue
		}
		t, err := ck.Tensor(name)
		if err != nil {
			return err
		}
		if i := t.NonFinite(); i >= 0 {
			return s.nonFinite(t, i)
		}
	}
	return nil
}

// checkFinite enables the NaN/Inf check of every float weight at load (a
// variable only so BenchmarkLoadCheckpoint can measure its cost).
var checkFinite = true

// nonFinite is the error for a NaN or Inf weight.
func (s *ckSource) nonFinite(t *tensor.Tensor, i int) error {
	return fmt.Errorf("model %s: tensor %q in %s: %w: %s (weights must be finite; the checkpoint is corrupt or overflowed when it was written)", s.ck.Dir, t.Name, filepath.Base(s.ck.FileOf(t.Name)), ErrBadModel, t.NonFiniteError(i))
}

// packedNames lists the checkpoint tensors under prefix+"." (a packed
// linear layer's codes, scales, zeros, ...).
func (s *ckSource) packedNames(prefix string) []string {
	names := s.ck.Names() // sorted
	p := prefix + "."
	i := sort.SearchStrings(names, p)
	j := i
	for j < len(names) && strings.HasPrefix(names[j], p) {
		j++
	}
	return names[i:j]
}

func (s *ckSource) checkMatrix(prefix string, out, in int) (float64, error) {
	if info, ok := s.ck.Info(prefix + ".weight"); ok && info.DType.IsFloat() {
		return s.check(prefix+".weight", []int{out, in})
	}
	names := s.packedNames(prefix)
	if len(names) == 0 {
		return s.check(prefix+".weight", []int{out, in}) // reports it missing
	}
	var bytes float64
	for _, n := range names {
		info, _ := s.ck.Info(n)
		bytes += float64(info.End - info.Begin)
	}
	return bytes, nil
}

func (s *ckSource) matrix(prefix string, out, in int) (kernels.Matrix, error) {
	// Packed formats: no dense weight, or an integer one (compressed-tensors
	// int8 W8A8 stores int8 codes under ".weight").
	if info, ok := s.ck.Info(prefix + ".weight"); !ok || !info.DType.IsFloat() {
		// Their float tensors (scales, zeros) are checked for NaN/Inf.
		for _, n := range s.packedNames(prefix) {
			if info, _ := s.ck.Info(n); info.DType.IsFloat() {
				t, err := s.ck.Tensor(n)
				if err != nil {
					return nil, err
				}
				if i := t.NonFinite(); i >= 0 {
					return nil, s.nonFinite(t, i)
				}
			}
		}
		var qc []byte
		if s.cfg != nil {
			qc = s.cfg.Quantization
		}
		m, ok, err := packed.LoadLinear(s.ck, prefix, qc)
		if err != nil {
			return nil, fmt.Errorf("model %s: linear %q: %w: %w", s.ck.Dir, prefix, ErrBadModel, err)
		}
		if ok {
			if o, i := m.Dims(); o != out || i != in {
				return nil, fmt.Errorf("model %s: linear %q: %w: packed weight is %d×%d, config implies %d×%d", s.ck.Dir, prefix, ErrBadModel, o, i, out, in)
			}
			return m, nil
		}
	}
	if _, err := s.check(prefix+".weight", []int{out, in}); err != nil {
		return nil, err
	}
	t, err := s.ck.Tensor(prefix + ".weight")
	if err != nil {
		return nil, err
	}
	var d []float32
	bad := -1
	if checkFinite {
		d, bad, err = t.Float32Finite() // one pass: convert and check
	} else {
		d, err = t.Float32()
	}
	if err != nil {
		return nil, err
	}
	if bad >= 0 {
		return nil, s.nonFinite(t, bad)
	}
	return kernels.NewDense(out, in, d)
}

// numel is the element count of shape as a float64 (no overflow).
func numel(shape []int) float64 {
	n := 1.0
	for _, d := range shape {
		n *= float64(d)
	}
	return n
}

// builder collects parameters, remembering the first error. A dry builder
// (preflight) only checks each parameter and adds up its bytes.
type builder struct {
	m     *Model
	src   source
	lazy  bool
	dry   bool
	bytes float64
	err   error
	// arch is the model's description.
	arch *Architecture
	// desc, norms and lins are block's scratch (see builder.block).
	desc  Block
	norms []normWeights
	lins  []*Linear
}

func (b *builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// vec uploads a vector or table parameter.
func (b *builder) vec(name string, shape ...int) backend.Weight {
	if b.err != nil {
		return nil
	}
	if b.dry {
		n, err := b.src.check(name, shape)
		b.bytes += n
		b.fail(err)
		return nil
	}
	t, err := b.src.tensor(name, shape...)
	if err != nil {
		b.fail(err)
		return nil
	}
	w, err := b.m.Backend.Upload(t)
	if err != nil {
		b.fail(fmt.Errorf("model %s: tensor %q: %w", b.m.Dir, name, err))
		return nil
	}
	return w
}

// linear builds prefix.weight (and prefix.bias when hasBias).
func (b *builder) linear(layer int, prefix, short string, out, in int, hasBias bool) *Linear {
	if b.err != nil {
		return nil
	}
	if b.dry {
		n, err := b.src.checkMatrix(prefix, out, in)
		b.bytes += n
		b.fail(err)
		if hasBias && err == nil {
			n, err = b.src.check(prefix+".bias", []int{out})
			b.bytes += 2 * n // host copy and backend copy
			b.fail(err)
		}
		return nil
	}
	l := &Linear{Name: prefix, Short: short, Layer: layer}
	m, err := b.src.matrix(prefix, out, in)
	if err != nil {
		b.fail(err)
		return nil
	}
	l.Host = m
	if l.w, err = b.m.Backend.UploadMatrix(m); err != nil {
		b.fail(err)
		return nil
	}
	if hasBias {
		t, err := b.src.tensor(prefix+".bias", out)
		if err != nil {
			b.fail(err)
			return nil
		}
		if l.Bias, err = t.Float32(); err != nil {
			b.fail(err)
			return nil
		}
		if l.b, err = b.m.Backend.Upload(t); err != nil {
			b.fail(err)
			return nil
		}
	}
	return l
}

// State is one sequence's decoding session: its KV cache, its position and
// the scratch buffers of the forward pass (allocated once per distinct
// chunk length, so the decode loop allocates nothing).
type State struct {
	m     *Model
	cache backend.KVCache
	pos   int
	bufs  map[bufKey]backend.Tensor
	full  map[fullKey]backend.Tensor
	views map[viewKey]backend.Tensor
	// HiddenHook, if set, sees the hidden states after the embeddings
	// (i = 0), after each block (i = 1…L) and after the final norm
	// (i = L+1).
	HiddenHook func(i int, h backend.Tensor)
	// LinearHook, if set, sees the input of every linear layer this state
	// runs, in host memory on any backend: on the CPU the activation
	// itself, elsewhere a copy read back with Backend.Read (one read per
	// linear, which waits for the device).
	LinearHook LinearHook
	// hostX holds the copy handed to LinearHook on backends whose
	// activations are not host matrices.
	hostX  []float32
	logits []float32
	// segs is set on a Batch's scratch state during a batched forward: the
	// rows of every tensor belong to these member states in order, and
	// attention runs per member on its own cache.
	segs []segment
	// kvChecked: checkKV found room for the whole cache.
	kvChecked bool
}

type bufKey struct {
	name       string
	rows, cols int
}

type fullKey struct {
	name string
	cols int
}

// NewState starts a session that can hold maxLen positions (0 means the
// model's max_position_embeddings).
func (m *Model) NewState(maxLen int) *State {
	if maxLen <= 0 {
		maxLen = m.Config.MaxPos
	}
	c := m.Config
	return &State{
		m:     m,
		cache: m.Backend.NewKVCache(c.Layers, maxLen, c.MaxKVDim()),
		bufs:  map[bufKey]backend.Tensor{},
		full:  map[fullKey]backend.Tensor{},
	}
}

// buf returns a rows×cols scratch tensor named name, reused across calls.
func (s *State) buf(name string, rows, cols int) backend.Tensor {
	k := bufKey{name, rows, cols}
	if t, ok := s.bufs[k]; ok {
		return t
	}
	fk := fullKey{name, cols}
	f, ok := s.full[fk]
	if !ok || f.Rows() < rows {
		f = s.m.Backend.NewTensor(rows, cols)
		s.full[fk] = f
		for key := range s.bufs {
			if key.name == name && key.cols == cols {
				delete(s.bufs, key)
			}
		}
	}
	t := s.m.Backend.View(f, 0, rows)
	s.bufs[k] = t
	return t
}

// lastRow returns a (cached) view of row n−1 of h.
func (s *State) lastRow(h backend.Tensor, n int) backend.Tensor {
	k := viewKey{h, n}
	if v, ok := s.views[k]; ok {
		return v
	}
	if s.views == nil {
		s.views = map[viewKey]backend.Tensor{}
	}
	v := s.m.Backend.View(h, n-1, n)
	s.views[k] = v
	return v
}

type viewKey struct {
	t backend.Tensor
	n int
}

// Len returns the number of positions in the cache.
func (s *State) Len() int { return s.pos }

// Truncate forgets positions ≥ n (later calls overwrite them).
func (s *State) Truncate(n int) {
	if n < s.pos && n >= 0 {
		s.pos = n
	}
}

// Model returns the state's model.
func (s *State) Model() *Model { return s.m }

// ErrContext is returned when a sequence would exceed the cache (bad
// input: the CLI maps it to exit code 2).
var ErrContext = badinput.New("sequence longer than the context")

// Append runs ids at positions Len()… and returns the logits of every one,
// row-major [len(ids)×Vocab]. The slice is reused by the next call.
func (s *State) Append(ids []int) ([]float32, error) { return s.forward(ids, false) }

// AppendLast is Append returning only the last position's logits (one
// LM-head row instead of len(ids)).
func (s *State) AppendLast(ids []int) ([]float32, error) { return s.forward(ids, true) }

// Hidden runs ids through the blocks and returns the final hidden states
// (after the final norm), without the LM head.
func (s *State) Hidden(ids []int) (backend.Tensor, error) {
	h, err := s.run(ids)
	return h, err
}

func (s *State) run(ids []int) (backend.Tensor, error) {
	c := s.m.Config
	if len(ids) == 0 {
		return nil, errors.New("no tokens")
	}
	if s.pos+len(ids) > s.cache.MaxLen() {
		return nil, fmt.Errorf("%w: %d+%d tokens, the cache holds %d", ErrContext, s.pos, len(ids), s.cache.MaxLen())
	}
	for _, id := range ids {
		if id < 0 || id >= c.Vocab {
			return nil, fmt.Errorf("token id %d outside the vocabulary [0, %d)", id, c.Vocab)
		}
	}
	for i, ok := range s.m.loaded {
		if !ok {
			return nil, fmt.Errorf("block %d is not loaded (lazy model: call LoadBlock)", i)
		}
	}
	if err := s.checkKV(); err != nil {
		return nil, err
	}
	n := len(ids)
	x := s.buf("x", n, c.Hidden)
	s.m.arch.embed(s, x, ids, s.pos)
	if s.HiddenHook != nil {
		s.HiddenHook(0, x)
	}
	for i := 0; i < c.Layers; i++ {
		s.m.arch.block(s, i, x, s.pos)
		if s.HiddenHook != nil {
			s.HiddenHook(i+1, x)
		}
	}
	h := s.m.arch.head(s, x)
	if s.HiddenHook != nil {
		s.HiddenHook(c.Layers+1, h)
	}
	s.pos += n
	return h, nil
}

func (s *State) forward(ids []int, lastOnly bool) ([]float32, error) {
	h, err := s.run(ids)
	if err != nil {
		return nil, err
	}
	b := s.m.Backend
	n := len(ids)
	if lastOnly {
		h = s.lastRow(h, n)
		n = 1
	}
	lm := s.m.arch.lmHead()
	out := s.buf("logits", n, lm.Out())
	s.m.linear(s, lm, out, h)
	if cap(s.logits) < n*lm.Out() {
		s.logits = make([]float32, n*lm.Out())
	}
	s.logits = s.logits[:n*lm.Out()]
	b.Read(s.logits, out)
	return s.logits, nil
}

// linear runs l on x into dst, handing x to s's LinearHook first.
func (m *Model) linear(s *State, l *Linear, dst, x backend.Tensor) {
	if s.LinearHook != nil {
		s.LinearHook(l, s.hostRows(x), x.Rows())
	}
	m.Backend.Linear(dst, x, l.w, l.b)
}

// hostRows returns x's values in host memory: a CPU matrix's own storage,
// or a copy in s's scratch read from the backend.
func (s *State) hostRows(x backend.Tensor) []float32 {
	if xm, ok := x.(*backend.Mat); ok {
		return xm.D
	}
	n := x.Rows() * x.Cols()
	if cap(s.hostX) < n {
		s.hostX = make([]float32, n)
	}
	s.hostX = s.hostX[:n]
	s.m.Backend.Read(s.hostX, x)
	return s.hostX
}

// attention runs the shared part of every architecture's self-attention:
// rotary (if rope), cache store, causal attention. In a batched forward
// each member's rows run on the member's own cache at its own position.
func (m *Model) attention(s *State, layer int, out, q, k, v backend.Tensor, pos0 int, rope bool) {
	if s.segs != nil {
		b := m.Backend
		for _, g := range s.segs {
			r0, r1 := g.row0, g.row0+g.rows
			m.attention(g.st, layer, b.View(out, r0, r1), b.View(q, r0, r1), b.View(k, r0, r1), b.View(v, r0, r1), g.st.pos, rope)
		}
		return
	}
	c := m.Config
	b := m.Backend
	heads, kvHeads := c.LayerHeads(layer)
	if rope {
		b.RoPE(q, heads, c.HeadDim, pos0, &m.rope)
		b.RoPE(k, kvHeads, c.HeadDim, pos0, &m.rope)
	}
	b.StoreKV(s.cache, layer, pos0, k, v)
	b.Attention(out, q, s.cache, layer, pos0, heads, kvHeads, c.HeadDim, float32(1/math.Sqrt(float64(c.HeadDim))))
}

// Describe returns a one-line summary of the model.
func (m *Model) Describe() string {
	c := m.Config
	return fmt.Sprintf("%s (%s): %d layers, hidden %d, heads %d/%d, vocab %d, %s", filepath.Base(m.Dir), c.ModelType, c.Layers, c.Hidden, c.Heads, c.KVHeads, c.Vocab, m.Backend.Name())
}

// Embed returns the input embeddings of ids at positions 0…len(ids)−1 as a
// new host matrix [len(ids)×Hidden] (the input of block 0).
func (m *Model) Embed(s *State, ids []int) ([]float32, error) {
	c := m.Config
	for _, id := range ids {
		if id < 0 || id >= c.Vocab {
			return nil, fmt.Errorf("token id %d outside the vocabulary [0, %d)", id, c.Vocab)
		}
	}
	if len(ids) > s.cache.MaxLen() {
		return nil, fmt.Errorf("%w: %d tokens, the cache holds %d", ErrContext, len(ids), s.cache.MaxLen())
	}
	x := s.buf("x", len(ids), c.Hidden)
	m.arch.embed(s, x, ids, 0)
	out := make([]float32, len(ids)*c.Hidden)
	m.Backend.Read(out, x)
	return out, nil
}

// kvDropper is implemented by backends that can free the cache storage of
// all layers but one (the CPU backend).
type kvDropper interface {
	DropKV(c backend.KVCache, keep int)
}

// ForwardBlock runs decoder block i in place on the host activations x
// [rows×Hidden] of one sequence at positions 0…rows−1, using s's cache and
// buffers. Block-by-block compression feeds each calibration sample through
// the blocks with it; s's LinearHook sees every linear input. Only layer
// i's part of s's cache is kept (the others are freed on backends that
// can): a state used with ForwardBlock must not be used for Append after.
func (m *Model) ForwardBlock(s *State, i int, x []float32) error {
	c := m.Config
	if len(x)%c.Hidden != 0 || i < 0 || i >= c.Layers {
		return fmt.Errorf("forward block %d: %d values is not rows×%d", i, len(x), c.Hidden)
	}
	rows := len(x) / c.Hidden
	if rows > s.cache.MaxLen() {
		return fmt.Errorf("%w: %d tokens, the cache holds %d", ErrContext, rows, s.cache.MaxLen())
	}
	if !m.loaded[i] {
		return fmt.Errorf("forward block %d: not loaded (lazy model: call LoadBlock)", i)
	}
	if d, ok := m.Backend.(kvDropper); ok {
		d.DropKV(s.cache, i) // a block-by-block pass holds one layer's cache
	}
	t := s.buf("x", rows, c.Hidden)
	m.Backend.Write(t, x)
	m.arch.block(s, i, t, 0)
	m.Backend.Read(x, t)
	return nil
}

// Logits applies the final norm and LM head to host hidden states
// [rows×Hidden] (the output of the last block) and returns [rows×Vocab].
func (m *Model) Logits(s *State, x []float32) ([]float32, error) {
	c := m.Config
	if len(x)%c.Hidden != 0 {
		return nil, fmt.Errorf("logits: %d values is not rows×%d", len(x), c.Hidden)
	}
	rows := len(x) / c.Hidden
	t := s.buf("x", rows, c.Hidden)
	m.Backend.Write(t, x)
	h := m.arch.head(s, t)
	lm := m.arch.lmHead()
	out := s.buf("logits", rows, lm.Out())
	m.linear(s, lm, out, h)
	res := make([]float32, rows*lm.Out())
	m.Backend.Read(res, out)
	return res, nil
}

// Tokenizer returns the tokenizer the model folder ships (tokenizer.json
// first, else tokenizer.model; see tokenizer.Load), loading it on first use.
func (m *Model) Tokenizer() (*tokenizer.Tokenizer, error) {
	if m.tok != nil || m.tokErr != nil {
		return m.tok, m.tokErr
	}
	if m.Dir == "" {
		m.tokErr = fmt.Errorf("model has no folder (random weights from a config): no tokenizer")
		return nil, m.tokErr
	}
	m.tok, m.tokErr = tokenizer.Load(m.Dir)
	return m.tok, m.tokErr
}
