package llmpruner

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/llmcbench/gollm/internal/textcheck"
)

// maxLineBytes bounds one calibration document line.
const maxLineBytes = 64 << 20

// ReadDocuments reads calibration text files into documents. A file whose
// name ends in .jsonl or .json (optionally .gz) holds one JSON record per
// line with a "text" field (or a bare JSON string); any other file holds
// one document per non-empty line, as BookCorpus's rows are lines. Errors
// wrap ErrBadInput and name the file.
func ReadDocuments(paths []string) ([]string, error) {
	var docs []string
	for _, p := range paths {
		d, err := readDocFile(p)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d...)
	}
	return docs, nil
}

func readDocFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("calibration %s: %w: %v", path, ErrBadInput, err)
	}
	defer f.Close()
	var r io.Reader = f
	name := path
	if strings.HasSuffix(name, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("calibration %s: %w: %v", path, ErrBadInput, err)
		}
		defer gz.Close()
		r = gz
		name = strings.TrimSuffix(name, ".gz")
	}
	r = textcheck.NewReader(r) // binary data is refused with its offset
	isJSON := strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".json")
	docs, err := parseDocs(r, isJSON)
	if err != nil {
		return nil, fmt.Errorf("calibration %s: %w", path, err)
	}
	return docs, nil
}

// parseDocs splits r into documents: JSON records (isJSON) or lines.
func parseDocs(r io.Reader, isJSON bool) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	var docs []string
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if !isJSON {
			docs = append(docs, string(b))
			continue
		}
		var s string
		if b[0] == '"' {
			if err := json.Unmarshal(b, &s); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", ErrBadInput, line, err)
			}
		} else {
			var rec struct {
				Text *string `json:"text"`
			}
			if err := json.Unmarshal(b, &rec); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", ErrBadInput, line, err)
			}
			if rec.Text == nil {
				return nil, fmt.Errorf("%w: line %d: no \"text\" field", ErrBadInput, line)
			}
			s = *rec.Text
		}
		docs = append(docs, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrBadInput, line+1, err)
	}
	return docs, nil
}

// SampleCalibration draws nsamples windows of seqlen tokens from docs as
// LLM-Pruner's get_bookcorpus does, with Python's random seeded by seed: per
// sample, documents are drawn with randint(0, len(docs)−1) until one that
// was not drawn before has at least seqlen tokens, then a window start with
// randint(0, tokens−seqlen). Documents are tokenized with BOS (the
// reference's tokenizer call). It returns ErrBadInput when the documents
// cannot supply the samples (where the reference would loop forever).
func SampleCalibration(docs []string, tok Tokenizer, nsamples, seqlen int, seed int64) ([][]int, error) {
	if nsamples < 1 || seqlen < 1 {
		return nil, badInput("calibration: %d samples of %d tokens", nsamples, seqlen)
	}
	cache := make(map[int][]int)
	encode := func(i int) []int {
		if ids, ok := cache[i]; ok {
			return ids
		}
		ids := tok.Encode(docs[i], true)
		cache[i] = ids
		return ids
	}
	// Count the documents long enough, so an impossible request fails
	// instead of looping (this tokenizes every document once).
	long := 0
	for i := range docs {
		if len(encode(i)) >= seqlen {
			long++
		}
	}
	if long < nsamples {
		return nil, badInput("calibration: %d documents have at least %d tokens, %d samples need as many", long, seqlen, nsamples)
	}
	rng := newPyRandom(seed)
	used := make(map[int]bool)
	out := make([][]int, 0, nsamples)
	for range nsamples {
		var ids []int
		for {
			d := rng.randint(0, len(docs)-1)
			ids = encode(d)
			if len(ids) >= seqlen && !used[d] {
				used[d] = true
				break
			}
		}
		j := rng.randint(0, len(ids)-seqlen)
		out = append(out, slices.Clone(ids[j:j+seqlen]))
	}
	return out, nil
}

// pyRandom is CPython's random.Random (MT19937 seeded by init_by_array
// with the 32-bit words of |seed|), enough of it for randint.
type pyRandom struct {
	mt  [624]uint32
	idx int
}

func newPyRandom(seed int64) *pyRandom {
	u := uint64(seed)
	if seed < 0 {
		u = uint64(-seed)
	}
	key := []uint32{uint32(u)}
	if hi := uint32(u >> 32); hi != 0 {
		key = append(key, hi)
	}
	r := &pyRandom{}
	r.initGenrand(19650218)
	const n = 624
	i, j := 1, 0
	for k := max(n, len(key)); k > 0; k-- {
		r.mt[i] = (r.mt[i] ^ ((r.mt[i-1] ^ (r.mt[i-1] >> 30)) * 1664525)) + key[j] + uint32(j)
		i++
		j++
		if i >= n {
			r.mt[0] = r.mt[n-1]
			i = 1
		}
		if j >= len(key) {
			j = 0
		}
	}
	for k := n - 1; k > 0; k-- {
		r.mt[i] = (r.mt[i] ^ ((r.mt[i-1] ^ (r.mt[i-1] >> 30)) * 1566083941)) - uint32(i)
		i++
		if i >= n {
			r.mt[0] = r.mt[n-1]
			i = 1
		}
	}
	r.mt[0] = 0x80000000
	return r
}

func (r *pyRandom) initGenrand(s uint32) {
	r.mt[0] = s
	for i := 1; i < len(r.mt); i++ {
		r.mt[i] = 1812433253*(r.mt[i-1]^(r.mt[i-1]>>30)) + uint32(i)
	}
	r.idx = len(r.mt)
}

// uint32 is genrand_uint32.
func (r *pyRandom) uint32() uint32 {
	const n, m = 624, 397
	if r.idx >= n {
		for k := 0; k < n; k++ {
			y := (r.mt[k] & 0x80000000) | (r.mt[(k+1)%n] & 0x7fffffff)
			v := r.mt[(k+m)%n] ^ (y >> 1)
			if y&1 != 0 {
				v ^= 0x9908b0df
			}
			r.mt[k] = v
		}
		r.idx = 0
	}
	y := r.mt[r.idx]
	r.idx++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// getrandbits returns k random bits (k ≤ 64), CPython's word order.
func (r *pyRandom) getrandbits(k int) uint64 {
	if k <= 32 {
		return uint64(r.uint32() >> (32 - k))
	}
	lo := uint64(r.uint32())
	hi := uint64(r.uint32() >> (64 - k))
	return hi<<32 | lo
}

// random is random.random(): 53 bits in [0, 1).
func (r *pyRandom) random() float64 {
	a, b := r.uint32()>>5, r.uint32()>>6
	return (float64(a)*67108864 + float64(b)) / 9007199254740992
}

// randint is random.randint(a, b), both ends included (b ≥ a).
func (r *pyRandom) randint(a, b int) int {
	n := uint64(b - a + 1)
	k := 0
	for v := n; v > 0; v >>= 1 {
		k++
	}
	for {
		if v := r.getrandbits(k); v < n {
			return a + int(v)
		}
	}
}
