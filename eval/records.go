package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// record is one example of a dataset as read from a file: the file, its
// 1-based row (line for JSON lines and CSV/TSV, row for parquet) and the
// columns by name. Values are string, bool, int64, float64, json.Number,
// []any, map[string]any or nil, whatever the file format.
type record struct {
	File   string
	Row    int
	Fields map[string]any
}

// errf returns a bad-input error that names the record's file, row and column.
func (r record) errf(col, format string, args ...any) error {
	return badInput(r.File, "row %d: column %q: %s", r.Row, col, fmt.Sprintf(format, args...))
}

// lookup returns the value at a dotted path ("choices.text").
func (r record) lookup(path string) (any, bool) {
	var cur any = r.Fields
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = m[part]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// has reports whether the record has a non-null value at path.
func (r record) has(path string) bool {
	v, ok := r.lookup(path)
	return ok && v != nil
}

// missing is the error for a column that is absent, with the columns present.
func (r record) missing(path string) error {
	keys := make([]string, 0, len(r.Fields))
	for k := range r.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return r.errf(path, "missing (columns present: %s)", strings.Join(keys, ", "))
}

// str returns the string at path.
func (r record) str(path string) (string, error) {
	v, ok := r.lookup(path)
	if !ok {
		return "", r.missing(path)
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case nil:
		return "", r.errf(path, "is null, want text")
	}
	return "", r.errf(path, "is %s, want text", describe(v))
}

// strs reads several text fields (as str), stopping at the first error.
func (r record) strs(paths ...string) ([]string, error) {
	out := make([]string, len(paths))
	for i, p := range paths {
		var err error
		if out[i], err = r.str(p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// integer returns the integer at path. Integral numbers, numeric strings
// ("2", as Hugging Face stores some labels) and booleans are accepted.
func (r record) integer(path string) (int, error) {
	v, ok := r.lookup(path)
	if !ok {
		return 0, r.missing(path)
	}
	n, ok := asInt(v)
	if !ok {
		return 0, r.errf(path, "is %s, want an integer", describe(v))
	}
	return n, nil
}

// strList returns the list of strings at path.
func (r record) strList(path string) ([]string, error) {
	return listAt(r, path, "text", "text", func(e any) (string, bool) { s, ok := e.(string); return s, ok })
}

// intList returns the list of integers at path (elements as integer
// accepts them).
func (r record) intList(path string) ([]int, error) {
	return listAt(r, path, "integers", "an integer", asInt)
}

// listAt returns the list at path, each element converted by conv; a
// []T is taken as is. Errors say "want a list of <list>" and, for an
// element conv refuses, "want <elem>".
func listAt[T any](r record, path, list, elem string, conv func(any) (T, bool)) ([]T, error) {
	v, ok := r.lookup(path)
	if !ok {
		return nil, r.missing(path)
	}
	if ts, ok := v.([]T); ok {
		return ts, nil
	}
	items, ok := v.([]any)
	if !ok {
		return nil, r.errf(path, "is %s, want a list of %s", describe(v), list)
	}
	out := make([]T, len(items))
	for i, e := range items {
		x, ok := conv(e)
		if !ok {
			return nil, r.errf(path, "element %d is %s, want %s", i, describe(e), elem)
		}
		out[i] = x
	}
	return out, nil
}

// asInt converts the integral values a dataset may hold to int.
func asInt(v any) (int, bool) {
	const limit = 1 << 53
	switch x := v.(type) {
	case int:
		return x, true
	case int32:
		return int(x), true
	case int64:
		if x > limit || x < -limit {
			return 0, false
		}
		return int(x), true
	case uint32:
		return int(x), true
	case uint64:
		if x > limit {
			return 0, false
		}
		return int(x), true
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > limit {
			return 0, false
		}
		return int(x), true
	case float32:
		return asInt(float64(x))
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			f, ferr := x.Float64()
			if ferr != nil {
				return 0, false
			}
			return asInt(f)
		}
		return asInt(n)
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil || n > limit || n < -limit {
			return 0, false
		}
		return n, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// describe names a value's kind for error messages, with a short excerpt.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 20 {
			x = x[:20] + "…"
		}
		return fmt.Sprintf("text %q", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case []any:
		return fmt.Sprintf("a list of %d", len(x))
	case map[string]any:
		return "an object"
	case json.Number:
		return "number " + string(x)
	case float64, float32, int, int32, int64, uint32, uint64:
		return fmt.Sprintf("number %v", x)
	}
	return fmt.Sprintf("%T", v)
}
