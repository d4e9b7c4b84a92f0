#!/usr/bin/python3
"""Dev tool (not run by tests): trains small SentencePiece models with the
`spm_train` CLI and writes sentencepiece's own encode/decode results as
conformance cases. Needs Debian's `sentencepiece` and `python3-sentencepiece`.

    /usr/bin/python3 make_spm_cases.py CORPUS OUTDIR
"""
import json, os, subprocess, sys
import sentencepiece as spm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from texts import TEXTS

corpus, out = sys.argv[1], sys.argv[2]
MODELS = {
    # Unigram with the default nmt_nfkc normalizer, extra-whitespace removal
    # and a user-defined symbol.
    "spm-unigram": ["--model_type=unigram", "--vocab_size=1000", "--user_defined_symbols=<|im|>"],
    # LLaMA-like BPE: identity normalizer, byte fallback, digits split,
    # user-defined symbols.
    "spm-bpe-bytefallback": ["--model_type=bpe", "--vocab_size=1000", "--byte_fallback=true",
                             "--split_digits=true", "--normalization_rule_name=identity",
                             "--remove_extra_whitespaces=false", "--user_defined_symbols=<|u|>,@@"],
    # BPE with nmt_nfkc and no byte fallback: unknown characters become <unk>.
    "spm-bpe-nfkc": ["--model_type=bpe", "--vocab_size=800", "--control_symbols=<ctl>",
                     "--character_coverage=0.98"],
}
for name, flags in MODELS.items():
    prefix = os.path.join(out, name)
    subprocess.run(["spm_train", f"--input={corpus}", f"--model_prefix={prefix}",
                    "--input_sentence_size=200000", "--shuffle_input_sentence=false",
                    "--num_threads=2", "--minloglevel=2"] + flags, check=True)
    os.rename(prefix + ".model", prefix + ".tokenizer.model")
    os.remove(prefix + ".vocab")
    sp = spm.SentencePieceProcessor(model_file=prefix + ".tokenizer.model")
    cases = []
    for t in TEXTS:
        ids = sp.encode(t)
        cases.append({"text": t, "ids": ids, "decoded": sp.decode(ids)})
    with open(prefix + ".cases.json", "w") as f:
        json.dump(cases, f, ensure_ascii=False, indent=0)
    print(name, sp.get_piece_size())

# Decode cases for the shared LLaMA-2 model (the fixture has encode ids only).
llama = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "testdata", "tokenizers", "llama2.tokenizer.model")
if os.path.exists(llama):
    sp = spm.SentencePieceProcessor(model_file=llama)
    cases = [{"text": t, "ids": sp.encode(t), "decoded": sp.decode(sp.encode(t))} for t in TEXTS]
    with open(os.path.join(out, "llama2-more.cases.json"), "w") as f:
        json.dump(cases, f, ensure_ascii=False, indent=0)
