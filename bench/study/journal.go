package study

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// JournalDir holds what each run did, one JSON-lines file per process
// (<study>/journal/<host>-<pid>-<unix>.jsonl): a line when a cell's
// computation starts and one when its file is written. The store's
// cells are the results; the journal is the history (how often a cell
// was computed, where, by which Slurm job).
const JournalDir = "journal"

// Journal events.
const (
	EventStart   = "start"   // a cell's computation began (its lock taken)
	EventWritten = "written" // its cell file was written
)

// JournalEntry is one line of a journal file.
type JournalEntry struct {
	Time   time.Time `json:"time"`
	Event  string    `json:"event"`
	Key    string    `json:"key"`
	Unit   string    `json:"unit"`
	Status string    `json:"status,omitempty"`
	Host   string    `json:"host"`
	PID    int       `json:"pid"`
	Job    string    `json:"job,omitempty"`
}

// journal appends a run's entries to its own file (one writer per file, so
// appends from many nodes never interleave).
type journal struct {
	mu   sync.Mutex
	path string
	f    *os.File
	who  Holder
}

func newJournal(dir string) *journal {
	who := self()
	name := fmt.Sprintf("%s-%d-%d.jsonl", who.Host, who.PID, time.Now().UnixNano())
	return &journal{path: filepath.Join(dir, JournalDir, name), who: who}
}

// add appends an entry; the journal is history, so a failure to write it
// is reported once to the caller and does not stop the run.
func (j *journal) add(event, key, unit, status string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		if err := os.MkdirAll(filepath.Dir(j.path), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(j.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		j.f = f
	}
	b, err := json.Marshal(JournalEntry{Time: time.Now().UTC(), Event: event, Key: key, Unit: unit, Status: status,
		Host: j.who.Host, PID: j.who.PID, Job: j.who.Job})
	if err != nil {
		return err
	}
	_, err = j.f.Write(append(b, '\n'))
	return err
}

func (j *journal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
}

// ReadJournal reads every journal file of study dir, in no particular
// order across files (each file's entries in order). A line that does
// not parse (a node that died mid-write) is skipped.
func ReadJournal(dir string) ([]JournalEntry, error) {
	paths, err := filepath.Glob(filepath.Join(dir, JournalDir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	var out []JournalEntry
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			var e JournalEntry
			if strings.TrimSpace(sc.Text()) == "" || json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			out = append(out, e)
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	return out, nil
}
