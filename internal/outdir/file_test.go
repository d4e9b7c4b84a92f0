package outdir

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCheckFile(t *testing.T) {
	dir := t.TempDir()
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		path string
		ok   bool
	}{
		{"new file", filepath.Join(dir, "r.json"), true},
		{"missing folder", filepath.Join(dir, "nope", "r.json"), false},
		{"a folder", dir, false},
		{"parent is a file", filepath.Join(dir, "f", "x"), false},
	}
	if os.Geteuid() != 0 { // root writes into read-only folders
		cases = append(cases, struct {
			name string
			path string
			ok   bool
		}{"read-only folder", filepath.Join(ro, "r.json"), false})
	}
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckFile(tc.path)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckFile(%s) = %v, want ok=%v", tc.path, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadPath) {
				t.Errorf("error %v does not wrap ErrBadPath", err)
			}
		})
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 2 {
		t.Errorf("CheckFile left files behind: %v", left)
	}
}

func TestWriteFileKeepsOldOnFailure(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.json")
	os.WriteFile(p, []byte("old"), 0o644)
	boom := errors.New("boom")
	err := WriteFile(p, func(f *os.File) error {
		f.WriteString("half")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("file = %q after a failed write, want the old content", b)
	}
	if err := WriteFile(p, func(f *os.File) error { _, err := f.WriteString("new"); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("file = %q, want new", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func TestCopyFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, []byte("weights\x00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "old")
	if err := os.WriteFile(old, []byte("a longer old content"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, src, dst string
		ok             bool
	}{
		{"new file", src, filepath.Join(dir, "new"), true},
		{"truncates", src, old, true},
		{"missing source", filepath.Join(dir, "nope"), filepath.Join(dir, "x"), false},
		{"missing folder", src, filepath.Join(dir, "no", "x"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CopyFile(c.src, c.dst)
			if (err == nil) != c.ok {
				t.Fatalf("CopyFile: err %v, want ok=%v", err, c.ok)
			}
			if !c.ok {
				return
			}
			got, err := os.ReadFile(c.dst)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "weights\x00\n" {
				t.Errorf("copy holds %q", got)
			}
		})
	}
}
