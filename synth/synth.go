// Package synth generates gollm's built-in world: a deterministic,
// English-like world of entities, facts, rules and scripts; a corpus of
// documents stating them (train / validation / test splits); and tasks in
// the native formats of MMLU, ARC, HellaSwag, PIQA, WinoGrande, QNLI, MNLI,
// WikiText-2, AdvGLUE and TruthfulQA that package eval reads unchanged.
// The same Options give the same bytes. See docs/WORLD.md.
package synth

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/llmcbench/gollm/internal/badinput"
)

// Version names the generator; it changes whenever the output for a given
// seed changes.
const Version = "gollm-synth/4"

// ErrBadOptions marks invalid Options (bad input: the CLI exits 2).
var ErrBadOptions = badinput.New("bad synth options")

// Options choose the world.
type Options struct {
	// Seed drives every random choice.
	Seed uint64
	// Scale multiplies the number of entities and task items (≥ 1): 6·Scale
	// countries, 18·Scale cities, 30·Scale people, 10·Scale organisations,
	// 20·Scale products.
	Scale int
	// Repeat is the number of encyclopedia articles per entity (each with
	// its own paraphrases) and scales the other document kinds (≥ 1).
	Repeat int
}

// DefaultOptions are the options of `gollm synth` without flags.
func DefaultOptions() Options { return Options{Seed: 1, Scale: 4, Repeat: 32} }

// ReferenceOptions are the options of the world the reference models
// (refmodels/, scripts/reference-models.sh) are trained on, which the
// default gollm bench study evaluates them on: seed 1, --scale 2,
// --repeat 32.
func ReferenceOptions() Options { return Options{Seed: 1, Scale: 2, Repeat: 32} }

// File is one generated file.
type File struct {
	// Path is relative to the output folder, with forward slashes.
	Path string
	Data []byte
	// Count is the number of documents, items or rows the file holds.
	Count int
}

// Output is a generated world: its facts and its files, sorted by path.
type Output struct {
	World *World
	Files []File
	// Dropped is the number of task items left out because their text
	// occurs verbatim in the training split.
	Dropped int
	// Manifest is MANIFEST.json's content.
	Manifest Manifest
}

// Manifest is MANIFEST.json.
type Manifest struct {
	Generator string `json:"generator"`
	Seed      uint64 `json:"seed"`
	Scale     int    `json:"scale"`
	Repeat    int    `json:"repeat"`
	// Documents counts the corpus documents (all splits) by kind.
	Documents map[string]int `json:"documents"`
	Files     []ManifestFile `json:"files"`
}

// ManifestFile is one file of Manifest.
type ManifestFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Bytes  int    `json:"bytes"`
	Count  int    `json:"count"`
}

// Split fractions of the documents that are not forced into training.
const (
	validationFrac = 0.05
	testFrac       = 0.05
)

// Generate builds the world of opt.
func Generate(opt Options) (*Output, error) {
	if opt.Scale < 1 || opt.Scale > 1000 {
		return nil, fmt.Errorf("%w: scale %d, want 1..1000", ErrBadOptions, opt.Scale)
	}
	if opt.Repeat < 1 || opt.Repeat > 1000 {
		return nil, fmt.Errorf("%w: repeat %d, want 1..1000", ErrBadOptions, opt.Repeat)
	}
	w := buildWorld(opt)
	used := map[string]bool{}
	for _, e := range w.Entities {
		used[e.Name] = true
		for _, f := range strings.Fields(e.Name) {
			used[f] = true
		}
	}
	docs := append(buildCorpus(w, opt), buildExercises(w, opt, used)...)
	r := newRNG(opt.Seed, "split")
	shuffle(r, docs)
	var split [3][]Document
	for _, d := range docs {
		x := r.Float64()
		switch {
		case d.Train || x >= validationFrac+testFrac:
			split[0] = append(split[0], d)
		case x < validationFrac:
			split[1] = append(split[1], d)
		default:
			split[2] = append(split[2], d)
		}
	}
	g := &taskGen{w: w, opt: opt, files: map[string][]byte{}, count: map[string]int{}}
	for i, name := range []string{"train", "validation", "test"} {
		texts := make([]string, len(split[i]))
		for j, d := range split[i] {
			texts[j] = d.Text()
		}
		s := strings.Join(texts, "\n\n") + "\n"
		if i == 0 {
			g.train = s
		}
		g.put("corpus/"+name+".txt", []byte(s), len(texts))
	}
	g.fresh = &namer{r: newRNG(opt.Seed, "fresh names"), used: used}
	g.mmlu()
	g.arc("arc_easy", "ARC-Easy-Test.jsonl", arcEasyQuestions)
	g.arc("arc_challenge", "ARC-Challenge-Test.jsonl", arcChallengeQuestions)
	g.hellaswag()
	g.piqa()
	g.winogrande()
	g.qnli()
	g.mnli()
	g.wikitext(split[2])
	g.truthfulqa()
	g.advglue()

	wj, err := json.MarshalIndent(w, "", " ")
	if err != nil {
		return nil, err
	}
	g.put("world.json", append(wj, '\n'), len(w.Facts))

	out := &Output{World: w, Dropped: g.dropped}
	paths := make([]string, 0, len(g.files))
	for p := range g.files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	m := Manifest{Generator: Version, Seed: opt.Seed, Scale: opt.Scale, Repeat: opt.Repeat, Documents: kindCounts(docs)}
	for _, p := range paths {
		sum := sha256.Sum256(g.files[p])
		m.Files = append(m.Files, ManifestFile{Path: p, SHA256: hex.EncodeToString(sum[:]), Bytes: len(g.files[p]), Count: g.count[p]})
		out.Files = append(out.Files, File{Path: p, Data: g.files[p], Count: g.count[p]})
	}
	out.Manifest = m
	mj, _ := json.MarshalIndent(m, "", "  ")
	out.Files = append(out.Files, File{Path: "MANIFEST.json", Data: append(mj, '\n'), Count: len(m.Files)})
	sort.Slice(out.Files, func(i, j int) bool { return out.Files[i].Path < out.Files[j].Path })
	return out, nil
}

// File returns the generated file at path (nil if none).
func (o *Output) File(path string) *File {
	for i := range o.Files {
		if o.Files[i].Path == path {
			return &o.Files[i]
		}
	}
	return nil
}

// Write writes every file under dir, creating folders as needed.
func (o *Output) Write(dir string) error {
	for _, f := range o.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ReadWorld reads world.json.
func ReadWorld(path string) (*World, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	w := &World{}
	if err := json.Unmarshal(b, w); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	w.Reindex()
	return w, nil
}
