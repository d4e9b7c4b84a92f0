package study

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LocksDir holds one lock file per cell being computed
// (<study>/locks/<key>.lock); see docs/CLUSTER.md.
const LocksDir = "locks"

// Lock timing: a holder touches its lock files every LockHeartbeat; a lock
// of another host whose file has not been touched for LockStale is a dead
// holder's (a node that died) and is taken over.
var (
	LockHeartbeat = 30 * time.Second
	LockStale     = 3 * time.Minute
)

// Holder is who computes a cell: what its lock file holds.
type Holder struct {
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// Start is the process's start time (/proc/PID/stat, clock ticks
	// since boot) and Boot the host's boot id: together with PID they
	// name one process, so a reused PID or a reboot is not taken for it.
	Start uint64 `json:"start"`
	Boot  string `json:"boot"`
	// Job is the Slurm job (JOBID or ARRAYJOBID_TASK), empty outside
	// Slurm.
	Job   string    `json:"job,omitempty"`
	Since time.Time `json:"since"`
}

func (h *Holder) String() string {
	s := fmt.Sprintf("%s pid %d", h.Host, h.PID)
	if h.Job != "" {
		s += ", slurm job " + h.Job
	}
	return s + ", since " + h.Since.Format(time.RFC3339)
}

// self describes this process.
func self() Holder {
	host, _ := os.Hostname()
	pid := os.Getpid()
	return Holder{Host: host, PID: pid, Start: procStart(pid), Boot: bootID(), Job: slurmJob(), Since: time.Now().UTC()}
}

// slurmJob names the Slurm job this process runs in ("" outside Slurm).
func slurmJob() string {
	if a, t := os.Getenv("SLURM_ARRAY_JOB_ID"), os.Getenv("SLURM_ARRAY_TASK_ID"); a != "" && t != "" {
		return a + "_" + t
	}
	return os.Getenv("SLURM_JOB_ID")
}

// procStart returns a process's start time in clock ticks since boot (0
// when unknown).
func procStart(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	// Field 22 (starttime) is the 20th after the name.
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

func bootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

// alive reports whether the holder of a lock whose file was last touched
// at mtime still runs: on this host, whether its process (PID and start
// time, same boot) exists; on another, whether it touched the file within
// LockStale.
func (h *Holder) alive(mtime time.Time) bool {
	me := self()
	if h.Host == me.Host {
		if h.Boot != me.Boot {
			return false // the host rebooted since
		}
		st := procStart(h.PID)
		return st != 0 && (h.Start == 0 || st == h.Start)
	}
	return time.Since(mtime) < LockStale
}

// cellLock is a held lock on one cell.
type cellLock struct {
	path string
	f    *os.File
}

// lockPath is the lock file of key.
func lockPath(dir, key string) string {
	return filepath.Join(dir, LocksDir, key+".lock")
}

// tryLock takes the lock of cell key. It returns the lock, or the live
// holder when another process computes the cell. A lock file whose holder
// is dead (its flock released, its process gone or, for another host, its
// heartbeat stale) is taken over. flock(2) makes the common cases exact
// (the kernel, or an NFSv4 server once the client's lease ends, releases
// a dead process's lock); the holder record covers file systems whose
// flock is node-local or missing.
func tryLock(dir, key string) (*cellLock, *Holder, error) {
	path := lockPath(dir, key)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, err
	}
	for range 10 {
		created := true
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
		if errors.Is(err, fs.ErrExist) {
			created = false
			f, err = os.OpenFile(path, os.O_RDWR, 0)
			if errors.Is(err, fs.ErrNotExist) {
				continue // released meanwhile
			}
		}
		if err != nil {
			return nil, nil, err
		}
		ferr := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if errors.Is(ferr, syscall.EWOULDBLOCK) {
			h := readHolder(f)
			f.Close()
			if h == nil {
				h = &Holder{Host: "another process"}
			}
			return nil, h, nil
		}
		// The file may have been removed (released) after we opened it:
		// the lock counts only if our descriptor is still the file's.
		var a, b syscall.Stat_t
		if syscall.Fstat(int(f.Fd()), &a) != nil || syscall.Stat(path, &b) != nil || a.Ino != b.Ino || a.Dev != b.Dev {
			f.Close()
			continue
		}
		if !created {
			// flock was free (or unsupported): take over only a dead
			// holder's lock; an empty record is a holder that died between
			// creating the file and writing it, or one still writing.
			h := readHolder(f)
			st, _ := f.Stat()
			if h == nil && time.Since(st.ModTime()) < LockStale || h != nil && h.alive(st.ModTime()) {
				f.Close()
				if h == nil {
					h = &Holder{Host: "another process"}
				}
				return nil, h, nil
			}
		}
		me := self()
		b2, _ := json.Marshal(me)
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, nil, err
		}
		if _, err := f.WriteAt(append(b2, '\n'), 0); err != nil {
			f.Close()
			return nil, nil, err
		}
		f.Sync()
		return &cellLock{path: path, f: f}, nil, nil
	}
	return nil, nil, fmt.Errorf("lock %s: could not take it after 10 tries", path)
}

// readHolder reads the holder record of an open lock file (nil when empty
// or unreadable).
func readHolder(f *os.File) *Holder {
	b := make([]byte, 4096)
	n, _ := f.ReadAt(b, 0)
	var h Holder
	if n == 0 || json.Unmarshal(b[:n], &h) != nil || h.Host == "" {
		return nil
	}
	return &h
}

// LockHolder returns the live holder of cell key's lock in study dir, or
// nil when no live process holds it (no lock file, or a dead holder's). It
// judges by the holder record only (it takes no lock, so that it never
// stands in a runner's way).
func LockHolder(dir, key string) *Holder {
	path := lockPath(dir, key)
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	h := readHolder(f)
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	if h == nil {
		if time.Since(st.ModTime()) < LockStale {
			return &Holder{Host: "another process"}
		}
		return nil
	}
	if h.alive(st.ModTime()) {
		return h
	}
	return nil
}

// unlock removes the lock file and releases the lock (in that order, so
// that a waiter that opened the old file sees it is gone).
func (l *cellLock) unlock() {
	os.Remove(l.path)
	l.f.Close()
}

// touch marks the lock as alive (its modification time).
func (l *cellLock) touch() {
	now := time.Now()
	os.Chtimes(l.path, now, now)
}

// lockSet is the locks a run holds, touched every LockHeartbeat while held.
type lockSet struct {
	mu    sync.Mutex
	held  map[*cellLock]bool
	stop  chan struct{}
	once  sync.Once
	ended chan struct{}
}

func newLockSet() *lockSet {
	s := &lockSet{held: map[*cellLock]bool{}, stop: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		defer close(s.ended)
		t := time.NewTicker(LockHeartbeat)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.mu.Lock()
				for l := range s.held {
					l.touch()
				}
				s.mu.Unlock()
			}
		}
	}()
	return s
}

func (s *lockSet) add(l *cellLock) {
	s.mu.Lock()
	s.held[l] = true
	s.mu.Unlock()
}

func (s *lockSet) release(l *cellLock) {
	s.mu.Lock()
	delete(s.held, l)
	s.mu.Unlock()
	l.unlock()
}

// close releases every lock still held and stops the heartbeat.
func (s *lockSet) close() {
	s.once.Do(func() {
		close(s.stop)
		<-s.ended
		s.mu.Lock()
		for l := range s.held {
			l.unlock()
		}
		s.held = map[*cellLock]bool{}
		s.mu.Unlock()
	})
}
