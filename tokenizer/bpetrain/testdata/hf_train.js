// Reference trainer for TestHFTrainer: trains a BPE model with the Hugging
// Face tokenizers library (npm package `tokenizers`) behind a ByteLevel
// pre-tokenizer (no prefix space, GPT-2 regex) on the given files, saves it
// to OUT (a tokenizer.json) and prints its merges as a JSON array of pairs.
// The Node bindings expose only the default BpeTrainer (vocabulary 30000,
// no special tokens, the alphabet of the text), so a small text trains
// until no pair is left.
//
//   node hf_train.js OUT FILE... > merges.json
const fs = require('fs');
const { Tokenizer, BPE, byteLevelPreTokenizer } = require('tokenizers');

const [out, ...files] = process.argv.slice(2);
const tok = new Tokenizer(BPE.empty());
tok.setPreTokenizer(byteLevelPreTokenizer(false, true));
tok.train(files);
tok.save(out, false);
const merges = JSON.parse(fs.readFileSync(out, 'utf8')).model.merges
  .map((m) => (Array.isArray(m) ? m : m.split(' ')));
process.stdout.write(JSON.stringify(merges));
