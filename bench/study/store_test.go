package study

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmcbench/gollm/bench"
)

// TestReadCell: a cell file is trusted only with this schema, a key that
// matches its name and inputs, and a known status.
func TestReadCell(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, bench.CellsDir), 0o755); err != nil {
		t.Fatal(err)
	}
	in := map[string]string{"model": "m"}
	key := bench.KeyOf(bench.KindEval, in)
	good := func() *bench.Cell {
		return &bench.Cell{Schema: bench.CellSchema, Key: key, Kind: bench.KindEval, Inputs: map[string]string{"model": "m"}, Status: bench.StatusOK}
	}
	tests := []struct {
		name   string
		edit   func(c *bench.Cell)
		raw    string
		ok     bool
		errHas string
	}{
		{name: "good", edit: func(*bench.Cell) {}, ok: true},
		{name: "other schema", edit: func(c *bench.Cell) { c.Schema = 99 }, errHas: "schema 99"},
		{name: "inputs changed", edit: func(c *bench.Cell) { c.Inputs["model"] = "other" }, errHas: "do not match"},
		{name: "kind changed", edit: func(c *bench.Cell) { c.Kind = bench.KindSpeed }, errHas: "do not match"},
		{name: "unknown status", edit: func(c *bench.Cell) { c.Status = "running" }, errHas: "unknown status"},
		{name: "not JSON", raw: "{\"schema\": 1,", errHas: "not a cell file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, bench.CellsDir, key+".json")
			if tt.raw != "" {
				if err := os.WriteFile(path, []byte(tt.raw), 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				c := good()
				tt.edit(c)
				c.Key = key
				if err := writeCell(dir, c); err != nil {
					t.Fatal(err)
				}
			}
			_, ok, err := readCell(dir, key)
			if ok != tt.ok || (tt.errHas == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("ok %v, err %v; want ok %v, error with %q", ok, err, tt.ok, tt.errHas)
			}
		})
	}
	if _, ok, err := readCell(dir, strings.Repeat("0", 64)); ok || err != nil {
		t.Errorf("absent cell: ok %v, err %v", ok, err)
	}
}

// TestDigestCache: a file is hashed once while its size and mtime stay;
// a changed file is hashed again; the cache survives a reload.
func TestDigestCache(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "w.safetensors")
	if err := os.WriteFile(f, []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := loadDigests(dir)
	first, err := d.file(f)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(f)
	e := d.entries[abs]
	e.SHA256 = "cached"
	d.entries[abs] = e
	if err := d.save(); err != nil {
		t.Fatal(err)
	}
	d = loadDigests(dir)
	if got, _ := d.file(f); got != "cached" {
		t.Errorf("an unchanged file was hashed again (%s)", got)
	}
	if err := os.WriteFile(f, []byte("new weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.file(f); got == "cached" || got == first {
		t.Errorf("a changed file kept its digest %s", got)
	}
}

// TestHeartbeat: while a child runs, its last progress line is shown
// (carriage-return progress bars included); nothing after stop.
func TestHeartbeat(t *testing.T) {
	old := heartbeatEvery
	heartbeatEvery = time.Millisecond
	defer func() { heartbeatEvery = old }()
	var out lockedBuffer
	r := &runner{o: Options{Progress: &out}}
	var stderr lockedBuffer
	stderr.Write([]byte("loading\ncompress: block 1/2\rcompress: block 2/2"))
	stop := r.heartbeat("compress", &stderr)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "gollm compress running for") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stop()
	got := out.String()
	if !strings.Contains(got, "compress: block 2/2") || strings.Contains(got, "block 1/2") {
		t.Errorf("heartbeat wrote %q", got)
	}
	n := len(out.String())
	time.Sleep(5 * time.Millisecond)
	if len(out.String()) != n {
		t.Error("heartbeat went on after stop")
	}
}
