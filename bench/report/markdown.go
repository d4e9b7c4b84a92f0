package report

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/llmcbench/gollm/bench"
)

// MarkdownMarker is the first line of every Markdown report, so that
// `gollm report` recognises a file it wrote (and replaces no other).
const MarkdownMarker = "<!-- gollm report -->"

// flagMarks are the footnote marks of flagged values, in order of use.
var flagMarks = []string{"¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"}

// Markdown writes the Summary as GitHub-flavoured Markdown: for each track
// a table in the paper's layout (rows model × method, columns tasks or
// measurements, values with their bootstrap interval; a flagged value is
// "—" with a footnote saying why), then the overall metrics (methods ×
// OMs), the methods' full specs, and the problems.
func Markdown(w io.Writer, s *bench.Summary) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	p("%s\n# LLMCBench study\n\n", MarkdownMarker)
	writeStudyInfo(bw, s)
	nm := newNames(s)
	for i := range s.Tracks {
		writeTrackMarkdown(bw, &s.Tracks[i], nm)
		if s.Tracks[i].ID == "5" {
			writeEnginesMarkdown(bw)
		}
	}
	writeOMMarkdown(bw, s, nm)
	writeMethodsMarkdown(bw, s, nm)
	writeProblemsMarkdown(bw, s, nm)
	return bw.Flush()
}

func writeStudyInfo(w io.Writer, s *bench.Summary) {
	if lines := studyLines(s); len(lines) > 0 {
		fmt.Fprintf(w, "%s.\n\n", mdText(strings.Join(lines, "; ")))
	}
}

// footnotes numbers the flags used in one table.
type footnotes struct{ flags []string }

func (f *footnotes) mark(flag string) string {
	i := slices.Index(f.flags, flag)
	if i < 0 {
		f.flags = append(f.flags, flag)
		i = len(f.flags) - 1
	}
	if i < len(flagMarks) {
		return flagMarks[i]
	}
	return "*"
}

func (f *footnotes) write(w io.Writer) {
	for i, fl := range f.flags {
		m := "*"
		if i < len(flagMarks) {
			m = flagMarks[i]
		}
		fmt.Fprintf(w, "%s %s: %s.\n\n", m, mdText(fl), flagNote(fl))
	}
}

func writeTrackMarkdown(w io.Writer, t *bench.Track, nm names) {
	fmt.Fprintf(w, "## Track %s: %s\n\n", mdText(t.ID), mdText(t.Title))
	if t.Definition != "" {
		fmt.Fprintf(w, "%s\n\n", mdText(t.Definition))
	}
	if t.Source != "" {
		fmt.Fprintf(w, "Source: %s.\n\n", mdText(t.Source))
	}
	if len(t.Rows) == 0 {
		fmt.Fprint(w, "No measurements.\n\n")
		return
	}
	withSource, withEngine := false, false
	for _, r := range t.Rows {
		withSource = withSource || !isGollm(r.Source)
		withEngine = withEngine || r.Engine != ""
	}
	head := []string{"Model", "Method"}
	if withEngine {
		head = append(head, "Engine")
	}
	if withSource {
		head = append(head, "Source")
	}
	scales := make([]scale, len(t.Columns))
	for i, c := range t.Columns {
		scales[i] = columnScale(c, t.Rows, i)
		head = append(head, mdText(columnHeader(c, scales[i])))
	}
	writeRow(w, head)
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = "---"
		if i >= len(head)-len(t.Columns) {
			sep[i] = "---:"
		}
	}
	writeRow(w, sep)
	var fn footnotes
	for _, r := range t.Rows {
		cells := []string{mdText(r.Model), mdText(nm.method(r.Method, r.Setting, r.Source))}
		if withEngine {
			cells = append(cells, mdText(r.Engine))
		}
		if withSource {
			cells = append(cells, mdText(sourceName(r.Source)))
		}
		for i := range t.Columns {
			if i >= len(r.Values) {
				cells = append(cells, "—"+fn.mark("missing"))
				continue
			}
			v := r.Values[i]
			if v.Flag != "" {
				cells = append(cells, "—"+fn.mark(v.Flag))
				continue
			}
			cells = append(cells, scales[i].format(v))
		}
		writeRow(w, cells)
	}
	fmt.Fprintln(w)
	fn.write(w)
}

// sourceName is a row's source as printed.
func sourceName(s string) string {
	if isGollm(s) {
		return "gollm"
	}
	return s
}

func writeOMMarkdown(w io.Writer, s *bench.Summary, nm names) {
	names := omColumns(s)
	fmt.Fprint(w, "## Overall metrics\n\n")
	keys := series(s)
	if len(names) == 0 || len(keys) == 0 {
		fmt.Fprint(w, "No overall metrics (no track has both original and compressed measurements).\n\n")
		return
	}
	fmt.Fprint(w, "100 × the quadratic mean of compressed/original ratios (original/compressed where lower is better); 100 is the original model.")
	if l := ciLevel(s); l > 0 {
		fmt.Fprintf(w, " Intervals are %.0f%% bootstrap intervals over the per-sample records.", 100*l)
	}
	fmt.Fprint(w, "\n\n")
	ix := indexOMs(s)
	head := []string{"Method"}
	for _, n := range names {
		head = append(head, mdText(n))
	}
	writeRow(w, head)
	sep := []string{"---"}
	for range names {
		sep = append(sep, "---:")
	}
	writeRow(w, sep)
	flagged := false
	for _, k := range keys {
		cells := []string{mdText(nm.series(k))}
		for _, n := range names {
			om := ix[k][n]
			if om == nil {
				cells = append(cells, "")
				continue
			}
			c := formatCI(om.V, om.CI)
			if om.Flagged > 0 {
				c += fmt.Sprintf(" (%d⚑)", om.Flagged)
				flagged = true
			}
			cells = append(cells, c)
		}
		writeRow(w, cells)
	}
	fmt.Fprintln(w)
	if flagged {
		fmt.Fprint(w, "(n⚑): n of the ratios behind the value are not measurements (failed, missing or unsupported cells), counted as 0.\n\n")
	}
}

func writeMethodsMarkdown(w io.Writer, s *bench.Summary, nm names) {
	var rows [][]string
	for _, sp := range nm.specs(s) {
		rows = append(rows, []string{mdText(sp[0]), "`" + strings.ReplaceAll(sp[1], "`", "'") + "`"})
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprint(w, "## Methods\n\n")
	writeRow(w, []string{"Method", "Spec"})
	writeRow(w, []string{"---", "---"})
	for _, r := range rows {
		writeRow(w, r)
	}
	fmt.Fprintln(w)
}

func writeProblemsMarkdown(w io.Writer, s *bench.Summary, nm names) {
	fmt.Fprint(w, "## Problems\n\n")
	if len(s.Problems) == 0 {
		fmt.Fprint(w, "None: every cell the tracks need was read and measured.\n")
		return
	}
	writeRow(w, []string{"Kind", "Model", "Method", "Task", "File", "Detail"})
	writeRow(w, []string{"---", "---", "---", "---", "---", "---"})
	for _, p := range s.Problems {
		writeRow(w, []string{mdText(p.Kind), mdText(p.Model), mdText(nm.method(p.Method, bench.SettingOf(p.Method), bench.SourceGollm)), mdText(p.Task), mdText(p.File), mdText(p.Detail)})
	}
}

func writeRow(w io.Writer, cells []string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
}

// mdReplacer makes text safe in a Markdown table cell: no line breaks, no
// column separators, no HTML.
var mdReplacer = strings.NewReplacer("\r", " ", "\n", " ", "|", `\|`, "<", "&lt;", ">", "&gt;")

func mdText(s string) string { return mdReplacer.Replace(s) }
