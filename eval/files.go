package eval

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// dataSpec says where a task's files are found under --data DIR.
type dataSpec struct {
	// Dirs are the directories under DIR tried in order; the first is the
	// task's own name, later ones are shared folders (e.g. "mnli" serves
	// both mnli and mnli_mismatch).
	Dirs []string
	// Split is the Hugging Face split: files named SPLIT.EXT or
	// SPLIT-00000-of-0000N[-hash].EXT (shards, concatenated in name order).
	Split string
	// Names are file names (glob patterns) of the original releases, e.g.
	// "wiki.test.raw" or "dev.tsv", accepted besides the split files.
	Names []string
	// Prefer names the subfolder (a Hugging Face config such as "ARC-Easy")
	// to use when several subfolders hold the split.
	Prefer []string
	// Source says where to download the data.
	Source string
}

// maxSearchDepth bounds the directory walk below a task folder.
const maxSearchDepth = 4

// matches reports whether a file belongs to the split (by its name, or by
// its folder in the Hugging Face parquet-conversion layout
// CONFIG/SPLIT/0000.parquet) or is one of the original release names.
func (d dataSpec) matches(path string) bool {
	base := filepath.Base(path)
	if formatOf(base) == "" || strings.HasPrefix(base, ".") {
		return false
	}
	for _, pat := range d.Names {
		if ok, _ := filepath.Match(pat, base); ok {
			return true
		}
	}
	if d.Split == "" {
		return false
	}
	stem := base
	if i := strings.IndexByte(stem, '.'); i >= 0 {
		stem = stem[:i]
	}
	if stem == d.Split || strings.HasPrefix(stem, d.Split+"-") {
		return true
	}
	return formatOf(base) == "parquet" && filepath.Base(filepath.Dir(path)) == d.Split
}

// expected describes the file names the spec accepts, for error messages.
func (d dataSpec) expected() string {
	var alts []string
	if d.Split != "" {
		alts = append(alts, d.Split+".jsonl", d.Split+"-00000-of-00001.parquet")
	}
	alts = append(alts, d.Names...)
	return strings.Join(alts, ", ")
}

// find returns the files of the split under dataDir, sorted. A missing
// directory or split is a *BadInputError that says what to put where.
func (d dataSpec) find(task, dataDir string) ([]string, error) {
	if dataDir == "" {
		return nil, badInput("", "task %s needs --data DIR with %s/ holding %s (from %s)", task, d.Dirs[0], d.expected(), d.Source)
	}
	var tried []string
	for _, dir := range d.Dirs {
		root := filepath.Join(dataDir, dir)
		st, err := os.Stat(root)
		if err != nil || !st.IsDir() {
			tried = append(tried, root)
			continue
		}
		files, err := walkMatching(root, d.matches)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			tried = append(tried, root)
			continue
		}
		return d.pickGroup(task, root, files)
	}
	return nil, badInput(strings.Join(tried, " or "), "task %s: no %s found (want %s; get it from %s)", task, splitOrFiles(d), d.expected(), d.Source)
}

func splitOrFiles(d dataSpec) string {
	if d.Split != "" {
		return d.Split + " split"
	}
	return "data file"
}

// pickGroup chooses one folder's files when the split occurs in several.
func (d dataSpec) pickGroup(task, root string, files []string) ([]string, error) {
	byDir := map[string][]string{}
	var dirs []string
	for _, f := range files {
		dir := filepath.Dir(f)
		if _, ok := byDir[dir]; !ok {
			dirs = append(dirs, dir)
		}
		byDir[dir] = append(byDir[dir], f)
	}
	if len(dirs) == 1 {
		return byDir[dirs[0]], nil
	}
	for _, p := range d.Prefer {
		for _, dir := range dirs {
			rel, _ := filepath.Rel(root, dir)
			for _, part := range strings.Split(rel, string(filepath.Separator)) {
				if strings.EqualFold(part, p) {
					return byDir[dir], nil
				}
			}
		}
	}
	sort.Strings(dirs)
	return nil, badInput(root, "task %s: the %s is in several folders (%s); keep one", task, splitOrFiles(d), strings.Join(dirs, ", "))
}

// walkMatching lists the files under root (depth-limited) whose path
// satisfies ok, in lexical order.
func walkMatching(root string, ok func(string) bool) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			return nil // unreadable subfolder: ignore
		}
		rel, _ := filepath.Rel(root, path)
		depth := strings.Count(rel, string(filepath.Separator))
		if e.IsDir() {
			if path != root && (strings.HasPrefix(e.Name(), ".") || depth >= maxSearchDepth) {
				return filepath.SkipDir
			}
			return nil
		}
		if ok(path) {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, badInput(root, "permission denied")
		}
		return nil, badInput(root, "cannot list: %v", err)
	}
	sort.Strings(out)
	return out, nil
}

// loadSplit finds and reads every record of a task's split.
func loadSplit(task, dataDir string, d dataSpec, opt readOptions) ([]record, []string, error) {
	files, err := d.find(task, dataDir)
	if err != nil {
		return nil, nil, err
	}
	var recs []record
	for _, f := range files {
		r, err := readRecords(f, opt)
		if err != nil {
			return nil, nil, err
		}
		recs = append(recs, r...)
	}
	if len(recs) == 0 {
		return nil, nil, badInput(strings.Join(files, ", "), "task %s: the %s is empty", task, splitOrFiles(d))
	}
	return recs, files, nil
}

// DataFiles returns the data files task would read from dataDir in the
// prompt variant (for mmlu, its folder), as Check finds them; a bench
// runner digests them to key its results. Errors match
// badinput.ErrBadInput.
func DataFiles(task, variant, dataDir string) ([]string, error) {
	if _, ok := registry[task]; !ok {
		return nil, badInput("", "unknown task %q (known: %s)", task, strings.Join(TaskNames(), ", "))
	}
	if variant == "" {
		variant = VariantHarness
	}
	def := lookupTask(task, variant)
	if def.name == "mmlu" {
		root, err := loadMMLURoot(dataDir, def.data)
		if err != nil {
			return nil, err
		}
		return []string{root}, nil
	}
	return def.data.find(def.name, dataDir)
}
