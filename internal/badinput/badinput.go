// Package badinput holds the one error every gollm package wraps when the
// user's input is at fault — a missing or malformed file, a bad flag value, a
// model the code cannot run — as opposed to a runtime failure. The CLI maps
// it, and only it, to exit code 2.
//
// A package either wraps ErrBadInput itself (Errorf, or fmt.Errorf with %w)
// or declares its own sentinel with New, whose message names the kind of
// input ("bad model") and which still matches ErrBadInput under errors.Is.
package badinput

import (
	"errors"
	"fmt"
	"io/fs"
)

// ErrBadInput is matched (with errors.Is) by every error that comes from the
// user's input rather than from a runtime failure.
var ErrBadInput = errors.New("bad input")

// Errorf returns an error reading "bad input: " followed by the formatted
// message, wrapping ErrBadInput.
func Errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadInput, fmt.Sprintf(format, args...))
}

// New returns a sentinel error whose message is text and which matches
// ErrBadInput (errors.Is), for a package that names its own kind of bad
// input, e.g. models.ErrBadModel = badinput.New("bad model").
func New(text string) error { return &kind{text} }

// kind is a named kind of bad input.
type kind struct{ text string }

func (k *kind) Error() string { return k.text }

// Unwrap returns ErrBadInput, so errors.Is(k, ErrBadInput) holds.
func (k *kind) Unwrap() error { return ErrBadInput }

// Missing marks err as bad input when it says a file does not exist
// (fs.ErrNotExist): a path the user named is wrong. The message is
// unchanged; any other error (an I/O failure) is returned as it is, as is nil.
func Missing(err error) error {
	if err == nil || !errors.Is(err, fs.ErrNotExist) || Is(err) {
		return err
	}
	return &marked{err}
}

// marked is an error the user's input caused, with its own message.
type marked struct{ err error }

func (m *marked) Error() string { return m.err.Error() }

// Unwrap returns the error and ErrBadInput.
func (m *marked) Unwrap() []error { return []error{m.err, ErrBadInput} }

// Is reports whether err, or an error it wraps, is bad input.
func Is(err error) bool { return errors.Is(err, ErrBadInput) }
