// Dev tool (not run by tests): splits random strings with the Hugging Face
// tokenizers library's Split pre-tokenizer (Oniguruma) for the GPT-2 and
// cl100k (LLaMA-3) patterns, so that the Go matchers can be held to the
// reference regex engine. Writes testdata/regex-oracle.json.
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const patterns = {
  gpt2: "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
  cl100k: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  qwen2: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
const alphabet = ['a', 'Z', 'é', 'ſ', '\u212A', "'", 's', 'S', 't', 'T', 'r', 'e', 'E', 'v', 'l', 'L', 'd', 'm',
  ' ', ' ', ' ', '\t', '\n', '\r', '\u00a0', '\u3000', '\u2028', '1', '2', '٣', '½', 'Ⅷ', '!', '.', '(', '😀',
  '\u200b', '\u0301', '中', 'ß', 'ǅ', '_', '-', '\u0085', '\u000b'];
let seed = 12345;
function rnd(n) { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; }
const out = {};
for (const [name, pat] of Object.entries(patterns)) {
  const tok = Tokenizer.fromString(JSON.stringify({ version: '1.0', added_tokens: [], normalizer: null,
    pre_tokenizer: { type: 'Split', pattern: { Regex: pat }, behavior: 'Isolated', invert: false },
    post_processor: null, decoder: null, model: { type: 'WordLevel', vocab: { '<unk>': 0 }, unk_token: '<unk>' } }));
  const pre = tok.getPreTokenizer();
  const cases = [];
  for (let i = 0; i < 400; i++) {
    let s = '';
    const n = 1 + rnd(14);
    for (let k = 0; k < n; k++) s += alphabet[rnd(alphabet.length)];
    cases.push({ text: s, pieces: pre.preTokenizeString(s).map((p) => p[0]) });
  }
  out[name] = { pattern: pat, cases };
}
fs.writeFileSync(path.join(__dirname, '..', 'regex-oracle.json'), JSON.stringify(out));
