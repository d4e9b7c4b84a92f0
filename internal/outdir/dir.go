package outdir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/llmcbench/gollm/internal/badinput"
)

// ManifestName is the file, inside every output folder gollm completes,
// that lists the files gollm wrote there. A folder whose files are all in
// its manifest may be replaced by a later run without --overwrite.
const ManifestName = ".gollm-output.json"

// ErrBusy marks an output folder another gollm run is writing (its lock is
// held). The CLI maps it to exit code 2.
var ErrBusy = badinput.New("output folder in use by another run")

// ErrForeign marks an output folder holding files gollm did not write. The
// CLI maps it to exit code 2.
var ErrForeign = badinput.New("output folder holds files gollm did not write")

// Options configure Create.
type Options struct {
	// Command is recorded in the manifest ("compress", "train").
	Command string
	// Flag names the path in messages ("--out").
	Flag string
	// Overwrite allows a folder holding files gollm did not write. Those
	// files are kept (gollm never deletes what it did not create); files of
	// the same names as the new output are replaced. A folder holding
	// another checkpoint's weights is refused even then, because the
	// leftover weights would load in place of (or beside) the new ones.
	Overwrite bool
}

// Manifest is the content of ManifestName.
type Manifest struct {
	Command string    `json:"command"`
	Created time.Time `json:"created"`
	Files   []string  `json:"files"`
}

// Dir is an output folder under construction. Files are written into the
// staging folder Tmp, a hidden sibling of Final, and Commit moves them into
// place in one rename, so an interrupted run leaves Final as it was (or
// absent) and never a half-written checkpoint. A Dir holds a lock on Final
// for its whole life: a second run into the same folder is refused.
type Dir struct {
	// Final is the folder the user named.
	Final string
	// Tmp is the staging folder the files are written to ("" after Commit
	// until Stage is called again).
	Tmp string
	// Kept, after a Commit, is where files that appeared in Final during
	// the run (and so were not gollm's to delete) were moved; "" if none.
	Kept string

	opt     Options
	lock    *os.File
	lockAt  string
	foreign []string // files in Final gollm did not write (Overwrite only)
}

// Create checks the output folder final before any work and starts its
// staging folder: final must be absent, empty, or hold only files a
// previous gollm run listed in its manifest (or, with Overwrite, no other
// checkpoint's weights); its parent must exist and be writable; no other
// run may hold its lock. Call Abort (or Commit) when done.
func Create(final string, opt Options) (*Dir, error) {
	if opt.Flag == "" {
		opt.Flag = "--out"
	}
	final = filepath.Clean(final)
	d := &Dir{Final: final, opt: opt}
	if st, err := os.Stat(final); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("%s %s: %w: it is a file, not a folder", opt.Flag, final, ErrBadPath)
	}
	parent := filepath.Dir(final)
	if st, err := os.Stat(parent); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%s %s: %w: folder %s does not exist", opt.Flag, final, ErrBadPath, parent)
	}
	if err := d.acquire(); err != nil {
		return nil, err
	}
	foreign, err := d.foreignFiles()
	if err != nil {
		d.release()
		return nil, err
	}
	if len(foreign) > 0 {
		if !opt.Overwrite {
			d.release()
			return nil, fmt.Errorf("%s %s: %w (%s); choose an empty or new folder, or pass --overwrite to replace the files of the same names and keep the others",
				opt.Flag, final, ErrForeign, listFew(foreign))
		}
		if w := weightFiles(foreign); len(w) > 0 {
			d.release()
			return nil, fmt.Errorf("%s %s: %w: another checkpoint's weights (%s) would stay beside the new ones; --overwrite keeps files gollm did not write, so move them away or choose another folder",
				opt.Flag, final, ErrForeign, listFew(w))
		}
		d.foreign = foreign
	}
	d.removeStale()
	if err := d.Stage(); err != nil {
		d.release()
		return nil, err
	}
	return d, nil
}

// Stage starts a new, empty staging folder (after Commit, for a command
// that completes its folder more than once, like train's checkpoints).
func (d *Dir) Stage() error {
	tmp, err := os.MkdirTemp(filepath.Dir(d.Final), "."+filepath.Base(d.Final)+".gollm-tmp-")
	if err != nil {
		return fmt.Errorf("%s %s: %w: %v", d.opt.Flag, d.Final, ErrBadPath, errors.Unwrap(err))
	}
	d.Tmp = tmp
	return nil
}

// Path is the staging path of a file of the output folder.
func (d *Dir) Path(name string) string { return filepath.Join(d.Tmp, name) }

// Commit writes the manifest of the staged files and moves them into place:
// one atomic rename (or exchange) when Final is new or was written by gollm;
// with Overwrite over a folder holding other files, each staged file is
// renamed over its namesake and the other files stay. The lock is kept
// until Abort.
func (d *Dir) Commit() error {
	if d.Tmp == "" {
		return fmt.Errorf("%s %s: nothing staged", d.opt.Flag, d.Final)
	}
	files, err := listFiles(d.Tmp)
	if err != nil {
		return err
	}
	// A copy: sorting must not reorder files, which commitInto moves.
	m := Manifest{Command: d.opt.Command, Created: time.Now().UTC(), Files: append(slices.Clone(files), ManifestName)}
	sort.Strings(m.Files)
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(d.Tmp, ManifestName), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if len(d.foreign) > 0 {
		return d.commitInto(files)
	}
	// New or empty Final: rename replaces an empty folder.
	if err := os.Rename(d.Tmp, d.Final); err == nil {
		d.Tmp = ""
		return nil
	}
	// Final holds a previous gollm output: swap the two folders atomically,
	// then remove the old files (all listed in its manifest).
	old := d.Tmp
	if err := unix.Renameat2(unix.AT_FDCWD, d.Tmp, unix.AT_FDCWD, d.Final, unix.RENAME_EXCHANGE); err != nil {
		// No exchange on this filesystem: move the old folder aside first.
		old = d.Final + ".gollm-old-" + fmt.Sprint(time.Now().UnixNano())
		old = filepath.Join(filepath.Dir(d.Final), "."+filepath.Base(old))
		if err := os.Rename(d.Final, old); err != nil {
			return fmt.Errorf("%s %s: %w", d.opt.Flag, d.Final, err)
		}
		if err := os.Rename(d.Tmp, d.Final); err != nil {
			os.Rename(old, d.Final)
			return fmt.Errorf("%s %s: %w", d.opt.Flag, d.Final, err)
		}
	}
	d.Tmp = ""
	if !removeOwned(old) {
		d.Kept = keep(old, filepath.Join(filepath.Dir(d.Final), filepath.Base(d.Final)+".gollm-kept-"+now().UTC().Format("20060102T150405")))
	}
	return nil
}

// now is the clock of Kept folders' names (a variable for tests).
var now = time.Now

// keep renames the replaced folder old, which still holds files gollm did
// not write, to name (or name-2, name-3, ... when a folder of that name
// already holds files: two commits in one second) and returns where it
// is. Left at its staging name it would be deleted as stale by the next run.
func keep(old, name string) string {
	kept := name
	for i := 2; i <= 1000; i++ {
		if os.Rename(old, kept) == nil {
			return kept
		}
		if _, err := os.Lstat(kept); err != nil {
			break // the rename failed for another reason than the name
		}
		kept = fmt.Sprintf("%s-%d", name, i)
	}
	return old
}

// commitInto renames each staged file over its namesake in Final, keeping
// Final's other files, then removes the empty staging folder.
func (d *Dir) commitInto(files []string) error {
	for _, f := range append(files, ManifestName) {
		dst := filepath.Join(d.Final, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(d.Tmp, f), dst); err != nil {
			return fmt.Errorf("%s %s: %w", d.opt.Flag, d.Final, err)
		}
	}
	os.RemoveAll(d.Tmp)
	d.Tmp = ""
	return nil
}

// Abort removes the staging folder (if any) and releases the lock; Final
// keeps what the last Commit left there. Safe to call more than once.
func (d *Dir) Abort() {
	if d.Tmp != "" {
		os.RemoveAll(d.Tmp)
		d.Tmp = ""
	}
	d.release()
}

// Close releases the lock after a Commit (the same as Abort).
func (d *Dir) Close() { d.Abort() }

// acquire takes the exclusive lock beside Final, refusing when another run
// holds it.
func (d *Dir) acquire() error {
	d.lockAt = filepath.Join(filepath.Dir(d.Final), "."+filepath.Base(d.Final)+".gollm-lock")
	for range 10 {
		f, err := os.OpenFile(d.lockAt, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return fmt.Errorf("%s %s: %w: %v", d.opt.Flag, d.Final, ErrBadPath, errors.Unwrap(err))
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			b, _ := os.ReadFile(d.lockAt)
			f.Close()
			holder := strings.TrimSpace(string(b))
			if holder == "" {
				holder = "another process"
			}
			return fmt.Errorf("%s %s: %w (%s); wait for it to finish or choose another folder", d.opt.Flag, d.Final, ErrBusy, holder)
		}
		// The holder before us may have removed the file after unlocking:
		// the lock counts only if our descriptor is still the file's.
		var a, b syscall.Stat_t
		if syscall.Fstat(int(f.Fd()), &a) == nil && syscall.Stat(d.lockAt, &b) == nil && a.Ino == b.Ino && a.Dev == b.Dev {
			f.Truncate(0)
			fmt.Fprintf(f, "gollm %s, pid %d, since %s\n", d.opt.Command, os.Getpid(), time.Now().UTC().Format(time.RFC3339))
			d.lock = f
			return nil
		}
		f.Close()
	}
	return fmt.Errorf("%s %s: %w: could not take the lock %s", d.opt.Flag, d.Final, ErrBusy, d.lockAt)
}

func (d *Dir) release() {
	if d.lock != nil {
		os.Remove(d.lockAt)
		d.lock.Close()
		d.lock = nil
	}
}

// foreignFiles lists Final's files (relative paths) that no gollm manifest
// there claims. A missing or empty Final has none.
func (d *Dir) foreignFiles() ([]string, error) {
	files, err := listFiles(d.Final)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %v", d.opt.Flag, d.Final, ErrBadPath, err)
	}
	owned := map[string]bool{}
	if m, err := readManifest(d.Final); err == nil {
		for _, f := range m.Files {
			owned[f] = true
		}
	}
	var foreign []string
	for _, f := range files {
		if !owned[f] {
			foreign = append(foreign, f)
		}
	}
	return foreign, nil
}

// removeStale removes staging folders of runs that died (we hold the lock,
// so no live run owns them). They carry gollm's own hidden prefix.
func (d *Dir) removeStale() {
	// Compare names, not a glob pattern: a folder named "a*" must not
	// match the staging folders of "ab".
	parent := filepath.Dir(d.Final)
	prefix := "." + filepath.Base(d.Final) + ".gollm-tmp-"
	ents, _ := os.ReadDir(parent)
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
			os.RemoveAll(filepath.Join(parent, e.Name()))
		}
	}
}

// removeOwned deletes a replaced gollm output folder: the files its manifest
// lists, then the folder if that left it empty, and reports whether the
// folder is gone. Anything else (a file a user added while the run went on)
// stays, and the folder with it.
func removeOwned(dir string) bool {
	if m, err := readManifest(dir); err == nil {
		for _, f := range m.Files {
			os.Remove(filepath.Join(dir, f))
		}
	}
	// Remove now-empty sub-folders, deepest first, then dir itself.
	var dirs []string
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i]) // fails, harmlessly, unless empty
	}
	_, err := os.Stat(dir)
	return errors.Is(err, fs.ErrNotExist)
}

func readManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// listFiles lists the regular files (and links) under dir, relative, sorted.
func listFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, rel)
		return nil
	})
	sort.Strings(files)
	return files, err
}

// weightFiles picks the files that a model loader would read as weights.
func weightFiles(files []string) []string {
	var w []string
	for _, f := range files {
		b := filepath.Base(f)
		if strings.HasSuffix(b, ".safetensors") || strings.HasSuffix(b, ".safetensors.index.json") ||
			strings.HasSuffix(b, ".bin") || strings.HasSuffix(b, ".pt") || strings.HasSuffix(b, ".gguf") {
			w = append(w, f)
		}
	}
	return w
}

func listFew(files []string) string {
	if len(files) <= 3 {
		return strings.Join(files, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(files[:3], ", "), len(files)-3)
}
