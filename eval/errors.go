package eval

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadInput is matched (with errors.Is) by every error that comes from the
// user's input rather than from a runtime failure: a missing data file, a
// wrong or missing column, an empty split, a label out of range, an unknown
// task name or a bad option. The CLI maps it to exit code 2.
var ErrBadInput = errors.New("bad input")

// BadInputError describes one problem with user input in one line. File is
// the path of the offending file (or directory) when there is one.
type BadInputError struct {
	// Task is the task whose data is at fault, when Msg does not say.
	Task string
	File string
	Msg  string
}

// Error returns "task TASK: FILE: MSG", leaving out the parts not set.
func (e *BadInputError) Error() string {
	s := "eval: "
	if e.Task != "" {
		s += "task " + e.Task + ": "
	}
	if e.File != "" {
		s += e.File + ": "
	}
	return s + e.Msg
}

// withTask names task in a bad-input error whose message does not.
func withTask(err error, task string) error {
	var bi *BadInputError
	if !errors.As(err, &bi) || bi.Task != "" || strings.Contains(bi.Msg, "task "+task) {
		return err
	}
	return &BadInputError{Task: task, File: bi.File, Msg: bi.Msg}
}

// Is reports whether target is ErrBadInput.
func (e *BadInputError) Is(target error) bool { return target == ErrBadInput }

// badInput builds a *BadInputError for file with a formatted message.
func badInput(file, format string, args ...any) error {
	return &BadInputError{File: file, Msg: fmt.Sprintf(format, args...)}
}
