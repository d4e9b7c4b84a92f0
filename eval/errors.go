package eval

import (
	"errors"
	"fmt"
	"strings"

	"github.com/llmcbench/gollm/internal/badinput"
)

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

// Unwrap returns badinput.ErrBadInput: every error that comes from the
// user's input rather than from a runtime failure (a missing data file, a
// wrong or missing column, an empty split, a label out of range, an unknown
// task name or a bad option) matches it, and the CLI maps it to exit code 2.
func (e *BadInputError) Unwrap() error { return badinput.ErrBadInput }

// badInput builds a *BadInputError for file with a formatted message.
func badInput(file, format string, args ...any) error {
	return &BadInputError{File: file, Msg: fmt.Sprintf(format, args...)}
}
