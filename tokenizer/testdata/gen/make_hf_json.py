#!/usr/bin/python3
"""Dev tool (not run by tests): converts SentencePiece models to
tokenizer.json the way transformers' convert_slow_tokenizer does (LLaMA
legacy LLaMA, T5/ALBERT-style Unigram), so that the Hugging Face
`tokenizers` library can serve as the oracle for them (make_hf_cases.js).

    /usr/bin/python3 make_hf_json.py LLAMA2_MODEL UNIGRAM_MODEL OUTDIR
"""
import base64, json, os, sys
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

llama_path, unigram_path, out = sys.argv[1:4]


def added(id_, content, special=True, normalized=False):
    return {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": normalized, "special": special}


def extract_merges(sp):
    """SentencePieceExtractor.extract with vocab scores (merges by score)."""
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    scores = {sp.id_to_piece(i): sp.get_score(i) for i in range(sp.get_piece_size())}
    merges = []
    for merge, score in scores.items():
        local = []
        for k in range(1, len(merge)):
            l, r = merge[:k], merge[k:]
            if l in vocab and r in vocab:
                local.append((l, r, score))
        local.sort(key=lambda x: (vocab[x[0]], vocab[x[1]]))
        merges.extend(local)
    merges.sort(key=lambda v: v[2], reverse=True)
    return vocab, [[a, b] for a, b, _ in merges]


sp = spm.SentencePieceProcessor(model_file=llama_path)
vocab, merges = extract_merges(sp)
model = {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
         "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
         "vocab": vocab, "merges": merges}
post = {"type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
decoder = {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
    {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
base = {"version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")]}
legacy = dict(base, normalizer={"type": "Sequence", "normalizers": [
    {"type": "Prepend", "prepend": "\u2581"}, {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
    pre_tokenizer=None, model=model, post_processor=post, decoder=decoder)
json.dump(legacy, open(os.path.join(out, "llama2-hf.tokenizer.json"), "w"), ensure_ascii=False)
# The non-legacy (Metaspace "first") variant is derived from this file by
# make_hf_cases.js.

# T5/ALBERT-style Unigram from the trained spm model.
m = pb.ModelProto()
m.ParseFromString(open(unigram_path, "rb").read())
uvocab = [[p.piece, p.score] for p in m.pieces]
toks = [added(i, p.piece, special=(p.type in (2, 3)), normalized=False)
        for i, p in enumerate(m.pieces) if p.type in (2, 3, 4)]
uni = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": toks,
       "normalizer": {"type": "Sequence", "normalizers": [
           {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(m.normalizer_spec.precompiled_charsmap).decode()},
           {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
       "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
       "post_processor": {"type": "TemplateProcessing",
                          "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                          "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}}],
                          "special_tokens": {"</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
       "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
       "model": {"type": "Unigram", "unk_id": 0, "vocab": uvocab, "byte_fallback": False}}
json.dump(uni, open(os.path.join(out, "unigram-t5.tokenizer.json"), "w"), ensure_ascii=False)

from texts import TEXTS
json.dump(TEXTS, open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "texts.json"), "w"), ensure_ascii=False, indent=0)
