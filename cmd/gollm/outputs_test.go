package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// folderHashes maps the files of dir (one level) to their SHA-256.
func folderHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]string{}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(b)
		h[e.Name()] = hex.EncodeToString(s[:])
	}
	return h
}

// compress into another model's folder exits 2 with one line naming
// --out, with or without --overwrite (another checkpoint's weights), and
// leaves every file as it was; the check comes before any data is read (a
// calibration file that cannot be read is not reached). Ctrl-C (a
// cancelled context) says that --out was left alone and exits 1.
func TestCompressOutputFolders(t *testing.T) {
	const model = "../../testdata/opt-tiny"
	const calib = "../../testdata/calib/c4-sample.jsonl"
	methods := map[string][]string{
		"magnitude":  {"--method", "magnitude"},
		"gptq":       {"--method", "gptq", "--calib", calib, "--nsamples", "2", "--seqlen", "16", "--group-size", "32"},
		"llm-pruner": {"--method", "llm-pruner", "--sparsity", "0.2", "--calib", calib, "--nsamples", "2", "--seqlen", "16"},
		"omniquant":  {"--method", "omniquant", "--calib", calib, "--nsamples", "2", "--seqlen", "16", "--epochs", "1", "--group-size", "32"},
	}
	badCalib := filepath.Join(t.TempDir(), "bad.json.gz")
	if err := os.WriteFile(badCalib, []byte("not gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, margs := range methods {
		t.Run(name, func(t *testing.T) {
			unread := make([]string, len(margs))
			for i, a := range margs {
				unread[i] = strings.Replace(a, calib, badCalib, 1)
			}
			other := filepath.Join(t.TempDir(), "other-model")
			if err := os.MkdirAll(other, 0o755); err != nil {
				t.Fatal(err)
			}
			src := "../../testdata/llama2-tiny"
			es, err := os.ReadDir(src)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				b, err := os.ReadFile(filepath.Join(src, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(other, e.Name()), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			before := folderHashes(t, other)
			for _, extra := range [][]string{nil, {"--overwrite"}} {
				args := append([]string{"compress", "--model", model, "--out", other}, unread...)
				code, _, stderr := runCLI(append(args, extra...)...)
				if code != 2 {
					t.Errorf("%v: exit %d, want 2 (stderr %q)", extra, code, stderr)
				}
				if strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "--out "+other) {
					t.Errorf("%v: want one line naming --out, got %q", extra, stderr)
				}
				after := folderHashes(t, other)
				if len(after) != len(before) {
					t.Fatalf("%v: %d files before, %d after", extra, len(before), len(after))
				}
				for f, h := range before {
					if after[f] != h {
						t.Errorf("%v: %s changed", extra, f)
					}
				}
			}

			out := filepath.Join(t.TempDir(), "out")
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var o, e bytes.Buffer
			code := run(ctx, append([]string{"compress", "--model", model, "--out", out}, margs...), &o, &e)
			if code != 1 || !strings.Contains(e.String(), "interrupted; nothing was written to "+out) {
				t.Errorf("cancelled run: exit %d, stderr %q", code, e.String())
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("cancelled run left %s (%v)", out, err)
			}
			if es, _ := os.ReadDir(filepath.Dir(out)); len(es) != 0 {
				t.Errorf("cancelled run left %d entries beside --out", len(es))
			}
		})
	}
}
