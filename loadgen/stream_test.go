package loadgen

import (
	"strings"
	"testing"
	"time"
)

func TestReadStream(t *testing.T) {
	const chunk = `data: {"choices":[{"text":"a"}]}` + "\n\n"
	const usage = `data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}` + "\n\n"
	const done = "data: [DONE]\n\n"
	tests := []struct {
		name       string
		stream     string
		chunks     int
		completion int
		err        string // "" for none, else a substring
	}{
		{"whole", chunk + chunk + usage + done, 2, 2, ""},
		{"no space after data:", "data:{\"choices\":[{\"text\":\"a\"}]}\n\n" + "data:[DONE]\n\n", 1, 0, ""},
		{"CRLF lines, comments and fields", ": keep-alive\r\nevent: message\r\nid: 1\r\n" + strings.ReplaceAll(chunk+done, "\n", "\r\n"), 1, 0, ""},
		{"no usage", chunk + done, 1, 0, ""},
		{"not JSON", chunk + "data: {\"choices\": [\n\n" + done, 1, 0, "malformed SSE chunk"},
		{"not SSE", "<html>oops</html>\n", 0, 0, "malformed SSE line"},
		{"ends before DONE", chunk + chunk, 2, 0, "before data: [DONE]"},
		{"empty body", "", 0, 0, "before data: [DONE]"},
		{"error chunk", chunk + `data: {"error":{"message":"out of memory"}}` + "\n\n", 1, 0, "out of memory"},
		{"line too long", "data: " + strings.Repeat("x", maxLine+10) + "\n\n", 0, 0, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o Outcome
			err := readStream(strings.NewReader(tt.stream), func() time.Time { return at(0) }, &o)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v; want one saying %q", err, tt.err)
			}
			if len(o.Chunks) != tt.chunks || o.CompletionTokens != tt.completion {
				t.Errorf("chunks %d, completion tokens %d; want %d, %d", len(o.Chunks), o.CompletionTokens, tt.chunks, tt.completion)
			}
		})
	}
}

// FuzzReadStream feeds arbitrary bytes as a server's stream: readStream
// never panics, and it records no more chunks than the stream has lines.
func FuzzReadStream(f *testing.F) {
	f.Add("data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: [DONE]\n\n")
	f.Add("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n")
	f.Add(": c\r\nevent: x\r\ndata:{\"error\":{\"message\":\"m\"}}\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		var o Outcome
		readStream(strings.NewReader(s), func() time.Time { return at(0) }, &o)
		if len(o.Chunks) > strings.Count(s, "\n")+1 {
			t.Errorf("%d chunks from %d lines", len(o.Chunks), strings.Count(s, "\n")+1)
		}
	})
}
