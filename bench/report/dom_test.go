package report

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// node is an element of a parsed HTML page: the tests read the report's
// output (and chromium's DOM of it) with encoding/xml in its lenient HTML
// mode, which is enough for the pages html.tmpl writes.
type node struct {
	Name     string
	Attr     map[string]string
	Children []*node
	Text     string // the text directly inside
}

func parseHTML(t *testing.T, page string) *node {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	root := &node{Name: "#root"}
	stack := []*node{root}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("parsing the page: %v", err)
		}
		top := stack[len(stack)-1]
		switch tk := tok.(type) {
		case xml.StartElement:
			n := &node{Name: strings.ToLower(tk.Name.Local), Attr: map[string]string{}}
			for _, a := range tk.Attr {
				n.Attr[strings.ToLower(a.Name.Local)] = a.Value
			}
			top.Children = append(top.Children, n)
			stack = append(stack, n)
		case xml.EndElement:
			name := strings.ToLower(tk.Name.Local)
			for i := len(stack) - 1; i > 0; i-- {
				if stack[i].Name == name {
					stack = stack[:i]
					break
				}
			}
		case xml.CharData:
			top.Text += string(tk)
		}
	}
	return root
}

// all returns the elements under n (n included) for which match is true.
func (n *node) all(match func(*node) bool) []*node {
	var out []*node
	var walk func(*node)
	walk = func(x *node) {
		if match(x) {
			out = append(out, x)
		}
		for _, c := range x.Children {
			walk(c)
		}
	}
	walk(n)
	return out
}

// byName matches elements by tag name.
func byName(name string) func(*node) bool { return func(x *node) bool { return x.Name == name } }

// byClass matches elements having class c.
func byClass(c string) func(*node) bool {
	return func(x *node) bool { return hasClass(x, c) }
}

func hasClass(x *node, c string) bool {
	for _, f := range strings.Fields(x.Attr["class"]) {
		if f == c {
			return true
		}
	}
	return false
}

// text returns all text under n.
func (n *node) text() string {
	var b strings.Builder
	var walk func(*node)
	walk = func(x *node) {
		b.WriteString(x.Text)
		for _, c := range x.Children {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// charts returns the page's charts by their figure id.
func charts(root *node) map[string]*node {
	out := map[string]*node{}
	for _, f := range root.all(byName("figure")) {
		for _, s := range f.all(byClass("chart")) {
			out[f.Attr["id"]] = s
		}
	}
	return out
}
