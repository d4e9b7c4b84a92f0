"""Texts for the conformance cases: the shared fixture cases plus edge cases
for normalizers, added tokens and whitespace handling."""
TEXTS = [
    "", " ", "Hello world", "Hello world!", "  leading spaces", "trailing spaces   ",
    "tabs\tand\nnewlines\n", "multiple\n\n\nnewlines\n\n", "numbers 1234567 3.14159 and 2024-11-26",
    "It's can't won't they'll I'd we've you're", "Unicode: café naïve résumé façade",
    "中文测试：今天天气很好。", "日本語のテキストです", "emoji 😀👍🏽 🇺🇸 done",
    "mixed    spaces\t\ttabs \t ", "<s> special </s> tokens in text <unk>",
    "def foo(x):\n    return x**2  # square\n", "URL https://example.com/a?b=c&d=e#frag",
    "zero\u200bwidth and nbsp\u00a0here", "ÀÉÎÕÜ ß ø å Ł ğ", "Ελληνικά κείμενο", "Русский текст, да.",
    "한국어 텍스트", "a" * 120, "‘smart quotes’ “double” — dash … ellipsis",
    "The quick brown fox jumps over the lazy dog.", "   ", "\n", "x\r\ny\r\n",
    "Question: What is the capital of France?\nAnswer: Paris", "1+1=2, 10*10=100; 999999999",
    "ÿþ control\x01chars\x7f", "Mixed CASE WoRdS and snake_case and camelCase",
    # added
    "ＦＵＬＬ　ｗｉｄｔｈ　１２３", "ﬁne ﬂow ﬃ ligatures", "e\u0301 combining and precomposed é",
    "İstanbul ΣΑΣ ǅ Ǆ", "x  y   z    w", " <|im|>tag<|im|> ", "<|u|>user@@defined<|u|>",
    "<ctl> control text", "'S 'T 'RE 'Ve 'LL 'D 'ſ", "\t\n \u3000\u2028 odd spaces\u2029",
    "[CLS] bert [SEP] [MASK] tokens [UNK]", "<|endoftext|>after<|endoftext|> <|endoftext|> spaced",
    "don't stop", "Ω≈ç√∫˜µ≤≥÷ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ℌ𝔢𝔩𝔩𝔬", "tab\tsep\tvalues\t",
    "ends with newline\n", "\n\nstarts with newlines", "ZWJ 👨‍👩‍👧 family",
]
