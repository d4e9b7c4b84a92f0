// Package testfs holds the file-system helpers the tests of several packages
// share: writing an input file, hashing a folder before and after a run,
// listing and copying folders, the output-safety check of a run into an
// --out it does not own (RefusesForeignOut, Loads), a progress writer that
// fires a hook (to cancel a run at a chosen point), and the golden files of
// the compression tests (Golden, GoldenTree, ReadGolden, WriteGolden,
// GoldenDiff and the -update flag). Only tests import it.
package testfs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// WriteFile writes data to dir/name and returns the path; it fails the test
// on an error.
func WriteFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// HashTree maps every file under dir (relative path, hidden files
// included) to its SHA-256; nil if dir does not exist.
func HashTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return hashFiles(t, dir, nil)
}

// hashFiles maps every file under dir (slash-separated relative path) to
// the SHA-256 of its bytes as edit returns them (as read when edit is nil).
func hashFiles(t testing.TB, dir string, edit func(p string, b []byte) ([]byte, error)) map[string]string {
	t.Helper()
	h := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if edit != nil {
			if b, err = edit(p, b); err != nil {
				return err
			}
		}
		rel, _ := filepath.Rel(dir, p)
		s := sha256.Sum256(b)
		h[filepath.ToSlash(rel)] = hex.EncodeToString(s[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Entries lists the names in dir.
func Entries(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// CopyTree copies the regular files of src (one level) into dst.
func CopyTree(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range Entries(t, src) {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// HookWriter is a progress writer calling Hook once, on the first write
// that contains Marker. It is safe for concurrent use.
type HookWriter struct {
	Marker string
	Hook   func()
	mu     sync.Mutex
	done   bool
}

func (w *HookWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && strings.Contains(string(p), w.Marker) {
		w.done = true
		w.Hook()
	}
	return len(p), nil
}

// Fired reports whether the hook has run.
func (w *HookWriter) Fired() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done
}
