package main

// textCodec is what the commands need of a tokenizer.
type textCodec interface {
	Encode(text string, addSpecial bool) []int
	Decode(ids []int, skipSpecial bool) string
}

// loadTokenizer is replaced once package tokenizer lands.
func loadTokenizer(dir string) (textCodec, error) {
	return nil, usagef("--prompt: no tokenizer support in this build yet; use --ids")
}
