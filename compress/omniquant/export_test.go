package omniquant

// CalibFile, Tok and ModeName give the external tests (golden_test.go)
// this package's test calibration file, tokenizer and setting names.
var (
	CalibFile = calibFile
	Tok       = tok
	ModeName  = modeName
)
