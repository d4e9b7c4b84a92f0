package procfs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestKB(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meminfo")
	text := "MemTotal:       16318852 kB\nMemFree:\nMemFree:         1234 kB\nVmHWM:\t  5120 kB\nBad: x kB\n"
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, key string
		want      int64
	}{
		{p, "MemTotal:", 16318852},
		{p, "MemFree:", 1234}, // the first line holding a number
		{p, "VmHWM:", 5120},
		{p, "Bad:", 0},
		{p, "MemAvailable:", 0},
		{filepath.Join(t.TempDir(), "absent"), "MemTotal:", 0},
	} {
		if got := KB(tc.path, tc.key); got != tc.want {
			t.Errorf("KB(%s, %q) = %d, want %d", filepath.Base(tc.path), tc.key, got, tc.want)
		}
	}
}
