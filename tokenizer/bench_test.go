package tokenizer

import (
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
)

var (
	benchWords = strings.Fields(`the of and to in is that for it as was with be by on not he this are or his
		from at which but have an they you were her she there been one all we their has would when if so no
		model language tokenizer evaluation perplexity quantization pruning benchmark compression accuracy
		weights activation layer attention matrix vector gradient calibration sparse dense throughput`)
	benchCode = []string{
		"func (t *Tokenizer) Encode(text string, addSpecial bool) []int {\n",
		"\tfor i := 0; i < len(ids); i++ {\n\t\tsum += float64(ids[i]) * 0.5\n\t}\n",
		"def forward(self, x):\n    return self.proj(torch.relu(x)) + 1e-6\n",
		"if (a != b && c >= 10) { console.log(`value: ${a}`); }\n",
		"SELECT id, name FROM users WHERE age > 21 ORDER BY name;\n",
		"    # TODO(gollm): handle the edge case where n == 0\n",
	}
	benchUnicode = []string{
		"中文测试：今天天气很好。", "日本語のテキストです。", "Русский текст, да.", "Ελληνικά κείμενο",
		"한국어 텍스트", "café naïve résumé façade", "emoji 😀👍🏽 🇺🇸", "‘smart quotes’ — dash …",
		"Ünïcödé ß ø å Ł ğ", "नमस्ते दुनिया", "مرحبا بالعالم",
	}
)

// benchTexts returns n deterministic documents of about size bytes each,
// mixing English prose (about 60%), code (25%) and other scripts (15%).
func benchTexts(size, n int) []string {
	r := rand.New(rand.NewSource(int64(size*31 + n)))
	out := make([]string, n)
	for k := range out {
		var b strings.Builder
		for b.Len() < size {
			switch x := r.Intn(100); {
			case x < 60:
				words := 5 + r.Intn(15)
				for i := 0; i < words; i++ {
					w := benchWords[r.Intn(len(benchWords))]
					if i == 0 {
						w = strings.ToUpper(w[:1]) + w[1:]
					}
					b.WriteString(w)
					if r.Intn(12) == 0 {
						b.WriteString(", ")
					} else if i < words-1 {
						b.WriteByte(' ')
					}
				}
				if r.Intn(5) == 0 {
					b.WriteString(" in 2024 with 3.14 and 1,000,000")
				}
				b.WriteString(". ")
				if r.Intn(6) == 0 {
					b.WriteString("\n\n")
				}
			case x < 85:
				b.WriteString(benchCode[r.Intn(len(benchCode))])
			default:
				b.WriteString(benchUnicode[r.Intn(len(benchUnicode))])
				b.WriteByte(' ')
			}
		}
		out[k] = b.String()
	}
	return out
}

type benchTokenizer struct {
	name string
	load func() (*Tokenizer, error)
}

var benchTokenizers = []benchTokenizer{
	{"opt-bytelevel", func() (*Tokenizer, error) {
		return LoadJSON(filepath.Join(fixtureDir, "opt-bytelevel.tokenizer.json"))
	}},
	{"llama3-bytelevel", func() (*Tokenizer, error) {
		return LoadJSON(filepath.Join(fixtureDir, "llama3-bytelevel.tokenizer.json"))
	}},
	{"llama2-spm", func() (*Tokenizer, error) {
		return LoadSentencePiece(filepath.Join(fixtureDir, "llama2.tokenizer.model"))
	}},
	{"llama2-hf-json", func() (*Tokenizer, error) {
		return LoadJSON(filepath.Join("testdata", "llama2-hf.tokenizer.json"))
	}},
	{"unigram-spm", func() (*Tokenizer, error) {
		return LoadSentencePiece(filepath.Join("testdata", "spm-unigram.tokenizer.model"))
	}},
}

// BenchmarkEncode encodes 1 MB of mixed English / code / Unicode text with
// one goroutine; MB/s is the throughput. One Encode before the timer fills
// the word cache, as in a long-running process.
func BenchmarkEncode(b *testing.B) {
	text := benchTexts(1<<20, 1)[0]
	benchEach(b, int64(len(text)), func(b *testing.B, tok *Tokenizer) {
		ids := tok.Encode(text, false)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			ids = tok.Encode(text, false)
		}
		b.ReportMetric(float64(len(text))/float64(len(ids)), "bytes/token")
	})
}

// BenchmarkEncodeCold is BenchmarkEncode with the word caches cleared
// before every iteration (each text seen for the first time).
func BenchmarkEncodeCold(b *testing.B) {
	text := benchTexts(1<<20, 1)[0]
	benchEach(b, int64(len(text)), func(b *testing.B, tok *Tokenizer) {
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			tok.free = nil
			tok.Encode(text, false)
		}
	})
}

// BenchmarkEncodeBatch encodes 256 documents of 4 KB (1 MB in all) with
// EncodeBatch over all cores.
func BenchmarkEncodeBatch(b *testing.B) {
	docs := benchTexts(4<<10, 256)
	total := 0
	for _, d := range docs {
		total += len(d)
	}
	benchEach(b, int64(total), func(b *testing.B, tok *Tokenizer) {
		tok.EncodeBatch(docs, false)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			tok.EncodeBatch(docs, false)
		}
	})
}

// BenchmarkDecode decodes the ids of 1 MB of text.
func BenchmarkDecode(b *testing.B) {
	text := benchTexts(1<<20, 1)[0]
	benchEach(b, int64(len(text)), func(b *testing.B, tok *Tokenizer) {
		ids := tok.Encode(text, false)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			tok.Decode(ids, true)
		}
	})
}

// benchEach runs body as one sub-benchmark per tokenizer of
// benchTokenizers, with the tokenizer loaded and b.SetBytes(bytes); body
// resets the timer after any warm-up.
func benchEach(b *testing.B, bytes int64, body func(b *testing.B, tok *Tokenizer)) {
	for _, bt := range benchTokenizers {
		b.Run(bt.name, func(b *testing.B) {
			tok, err := bt.load()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(bytes)
			body(b, tok)
		})
	}
}

// BenchmarkLoad measures loading each tokenizer file.
func BenchmarkLoad(b *testing.B) {
	for _, bt := range benchTokenizers {
		b.Run(bt.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := bt.load(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
