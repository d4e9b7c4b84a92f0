// Package procfs reads the memory figures Linux reports in /proc, for the
// memory checks and records of models and compress.
package procfs

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// KB returns the number after key (e.g. "MemAvailable:") on the first line
// of the file at path (e.g. /proc/meminfo or /proc/self/status) that
// starts with key and has one — a figure in kB there; 0 when the file
// cannot be read or no such line exists.
func KB(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			if fs := strings.Fields(rest); len(fs) > 0 {
				v, _ := strconv.ParseInt(fs[0], 10, 64)
				return v
			}
		}
	}
	return 0
}
