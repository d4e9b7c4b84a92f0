// Package outdir writes what gollm commands produce without losing or
// half-writing anything: a file is written beside its final path and renamed
// into place when complete, and every output path is checked before any work.
package outdir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/llmcbench/gollm/internal/badinput"
)

// ErrBadPath marks an output path that cannot be written (a missing or
// read-only parent folder, a folder where a file is wanted). The CLI maps it
// to exit code 2.
var ErrBadPath = badinput.New("output path not writable")

// CheckFile reports whether a file can be written at path: its folder exists
// and accepts new files, and path is not a folder. Nothing is left behind.
// Commands call it before any work so that a bad path fails in a second,
// not after an hour of computation.
func CheckFile(path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s: %w: it is a folder", path, ErrBadPath)
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: %w: folder %s does not exist", path, ErrBadPath, dir)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s: %w: %s is not a folder", path, ErrBadPath, dir)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".check-*")
	if err != nil {
		return fmt.Errorf("%s: %w: %v", path, ErrBadPath, errors.Unwrap(err))
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

// WriteFile writes a file at path atomically: write fills a temporary file
// in the same folder, which is synced and renamed over path only when write
// succeeds. On any failure path is left as it was and the temporary file is
// removed.
func WriteFile(path string, write func(f *os.File) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%s: %w: %v", path, ErrBadPath, errors.Unwrap(err))
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// CopyFile copies the file src to dst (created or truncated; its folder
// must exist), for a file carried unchanged into an output folder.
func CopyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
