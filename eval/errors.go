package eval

import (
	"errors"
	"fmt"
)

// ErrBadInput is matched (with errors.Is) by every error that comes from the
// user's input rather than from a runtime failure: a missing data file, a
// wrong or missing column, an empty split, a label out of range, an unknown
// task name or a bad option. The CLI maps it to exit code 2.
var ErrBadInput = errors.New("bad input")

// BadInputError describes one problem with user input in one line. File is
// the path of the offending file (or directory) when there is one.
type BadInputError struct {
	File string
	Msg  string
}

// Error returns "FILE: MSG", or MSG when no file is involved.
func (e *BadInputError) Error() string {
	if e.File == "" {
		return "eval: " + e.Msg
	}
	return "eval: " + e.File + ": " + e.Msg
}

// Is reports whether target is ErrBadInput.
func (e *BadInputError) Is(target error) bool { return target == ErrBadInput }

// badInput builds a *BadInputError for file with a formatted message.
func badInput(file, format string, args ...any) error {
	return &BadInputError{File: file, Msg: fmt.Sprintf(format, args...)}
}
