// Dev tool (not run by tests): computes conformance cases for tokenizer.json
// pipelines with the Hugging Face `tokenizers` library itself (npm package
// `tokenizers`, the official Node bindings of the Rust crate).
//
//   npm install tokenizers@0.23.2 && node make_hf_cases.js CORPUS
//
// It writes into testdata/: <name>.cases.json for each configuration, and
// the small tokenizer.json files it builds (WordPiece, WordLevel, BPE with
// subword prefix/suffix). Configurations derived from a bigger file store
// only their "base" file and the top-level "patch" applied to it.
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const here = __dirname;
const out = path.join(here, '..');
const shared = path.join(here, '..', '..', '..', 'testdata', 'tokenizers');
const texts = JSON.parse(fs.readFileSync(path.join(here, 'texts.json'), 'utf8'));
const corpus = fs.readFileSync(process.argv[2], 'utf8').slice(0, 400000);

function addedTok(id, content, o = {}) {
  return Object.assign({ id, content, single_word: false, lstrip: false, rstrip: false,
    normalized: false, special: true }, o);
}

// --- configurations derived from a base file by replacing top-level keys
const optBase = 'opt-bytelevel.tokenizer.json';
const optAdded = JSON.parse(fs.readFileSync(path.join(shared, optBase), 'utf8')).added_tokens;
const derived = {
  'opt-roberta-norm': { base: optBase, patch: {
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' },
      { type: 'Strip', strip_left: true, strip_right: true }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true },
      { type: 'Punctuation', behavior: 'Contiguous' },
      { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true }] },
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    added_tokens: optAdded.concat([
      addedTok(4000, '<mask>', { lstrip: true }),
      addedTok(4001, '[CLS]', { single_word: true }),
      addedTok(4002, "don't", { normalized: true, special: false }),
      addedTok(4003, '<|endoftext|>', { rstrip: true }),
      addedTok(4004, ' spaced', { special: false })]) } },
  'opt-split-behaviors': { base: optBase, patch: {
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' },
      { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { String: ' ' }, behavior: 'MergedWithPrevious', invert: false },
      { type: 'Split', pattern: { Regex: '[0-9]' }, behavior: 'Contiguous', invert: false },
      { type: 'Split', pattern: { Regex: '[,.!?]' }, behavior: 'MergedWithNext', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false }] },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'Sequence', decoders: [{ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }] } } },
  'opt-whitespace': { base: optBase, patch: {
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKD' }, { type: 'Lowercase' }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Whitespace' },
      { type: 'Split', pattern: { Regex: '[aeiou]' }, behavior: 'MergedWithPrevious', invert: true },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true } } },
  'opt-metaspace': { base: optBase, patch: {
    normalizer: { type: 'NFC' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
      { type: 'Split', pattern: { Regex: '(?<=\\p{Ll})(?=\\p{Lu})' }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] },
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [0], tokens: ['<s>'] }, '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] } } },
    decoder: { type: 'Sequence', decoders: [{ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] } } },
  'llama3-more': { base: 'llama3-bytelevel.tokenizer.json', patch: {} },
  'opt-more': { base: optBase, patch: {} },
  'llama2-metaspace': { base: 'llama2-hf.tokenizer.json', patch: {
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: false } } },
};

// --- small vocabularies built here
function words(text) {
  return text.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '').match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) || [];
}
function counts(list) {
  const m = new Map();
  for (const w of list) m.set(w, (m.get(w) || 0) + 1);
  return m;
}
const wc = counts(words(corpus));
const byFreq = [...wc.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));

function wordPieceJSON() {
  const vocab = {};
  const add = (t) => { if (!(t in vocab)) vocab[t] = Object.keys(vocab).length; };
  ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].forEach(add);
  const chars = new Set();
  for (const [w] of byFreq) for (const c of w) chars.add(c);
  [...chars].sort().forEach((c) => { add(c); add('##' + c); });
  byFreq.slice(0, 1200).forEach(([w]) => add(w));
  const suf = counts(byFreq.flatMap(([w, n]) => {
    const r = [];
    for (let k = 2; k <= 5 && k < w.length; k++) r.push(w.slice(w.length - k));
    return r;
  }));
  [...suf.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 300).forEach(([s]) => add('##' + s));
  const at = (id, c) => addedTok(id, c);
  return { version: '1.0', truncation: null, padding: null,
    added_tokens: [at(0, '[PAD]'), at(1, '[UNK]'), at(2, '[CLS]'), at(3, '[SEP]'), at(4, '[MASK]')],
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: { type: 'BertProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2] },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab } };
}

function wordLevelJSON() {
  const vocab = { '<unk>': 0 };
  byFreq.slice(0, 800).forEach(([w], i) => { vocab[w] = i + 1; });
  return { version: '1.0', truncation: null, padding: null, added_tokens: [addedTok(0, '<unk>')],
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Punctuation' }] },
    post_processor: null, decoder: null, model: { type: 'WordLevel', vocab, unk_token: '<unk>' } };
}

// A tiny BPE trainer (pair counts, ties by string order) for subword prefix
// and suffix models.
function bpeJSON(prefix, suffix, nMerges) {
  const vocab = { '[UNK]': 0 };
  const add = (t) => { if (!(t in vocab)) vocab[t] = Object.keys(vocab).length; };
  const ws = byFreq.slice(0, 3000).map(([w, n]) => {
    const cs = [...w].map((c, i, a) => (i > 0 ? prefix : '') + c + (i === a.length - 1 ? suffix : ''));
    cs.forEach(add);
    return { cs, n };
  });
  const merges = [];
  for (let k = 0; k < nMerges; k++) {
    const pc = new Map();
    for (const { cs, n } of ws) for (let i = 0; i + 1 < cs.length; i++) {
      const key = cs[i] + '\u0000' + cs[i + 1];
      pc.set(key, (pc.get(key) || 0) + n);
    }
    let best = null; let bn = 0;
    for (const [key, n] of pc) if (n > bn || (n === bn && key < best)) { best = key; bn = n; }
    if (!best) break;
    const [a, b] = best.split('\u0000');
    const merged = a + b.slice(prefix.length);
    add(merged);
    merges.push([a, b]);
    for (const w of ws) {
      const r = [];
      for (let i = 0; i < w.cs.length; i++) {
        if (i + 1 < w.cs.length && w.cs[i] === a && w.cs[i + 1] === b) { r.push(merged); i++; } else r.push(w.cs[i]);
      }
      w.cs = r;
    }
  }
  return { version: '1.0', truncation: null, padding: null, added_tokens: [addedTok(0, '[UNK]')],
    normalizer: { type: 'Lowercase' }, pre_tokenizer: { type: 'Whitespace' }, post_processor: null,
    decoder: suffix ? { type: 'BPEDecoder', suffix } : { type: 'WordPiece', prefix, cleanup: false },
    model: { type: 'BPE', dropout: null, unk_token: '[UNK]', continuing_subword_prefix: prefix || null,
      end_of_word_suffix: suffix || null, fuse_unk: !!suffix, byte_fallback: false, ignore_merges: false, vocab, merges } };
}

const built = {
  'wordpiece-bert': wordPieceJSON(),
  'wordlevel': wordLevelJSON(),
  'bpe-suffix': bpeJSON('', '</w>', 400),
  'bpe-prefix': bpeJSON('##', '', 400),
};

async function cases(tok) {
  const res = [];
  for (const text of texts) {
    const e1 = await tok.encode(text, null, { addSpecialTokens: true });
    const e0 = await tok.encode(text, null, { addSpecialTokens: false });
    res.push({ text, ids: e1.getIds(), ids_no_special: e0.getIds(), tokens_no_special: e0.getTokens(),
      decoded: await tok.decode(e0.getIds(), true) });
  }
  return res;
}

(async () => {
  const files = { 'llama2-hf': 'llama2-hf.tokenizer.json', 'unigram-t5': 'unigram-t5.tokenizer.json' };
  for (const [name, file] of Object.entries(files)) {
    const tok = Tokenizer.fromFile(path.join(out, file));
    fs.writeFileSync(path.join(out, name + '.cases.json'), JSON.stringify({ tokenizer: file, cases: await cases(tok) }));
  }
  for (const [name, j] of Object.entries(built)) {
    const file = name + '.tokenizer.json';
    fs.writeFileSync(path.join(out, file), JSON.stringify(j));
    const tok = Tokenizer.fromFile(path.join(out, file));
    fs.writeFileSync(path.join(out, name + '.cases.json'), JSON.stringify({ tokenizer: file, cases: await cases(tok) }));
  }
  for (const [name, d] of Object.entries(derived)) {
    const dir = fs.existsSync(path.join(shared, d.base)) ? shared : out;
    const j = Object.assign(JSON.parse(fs.readFileSync(path.join(dir, d.base), 'utf8')), d.patch);
    const tok = Tokenizer.fromString(JSON.stringify(j));
    fs.writeFileSync(path.join(out, name + '.cases.json'),
      JSON.stringify({ base: d.base, patch: d.patch, cases: await cases(tok) }));
  }
  console.log('done');
})();
