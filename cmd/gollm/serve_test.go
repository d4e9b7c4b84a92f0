package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestServeFlags(t *testing.T) {
	const model = "../../testdata/llama3-tiny"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().(*net.TCPAddr).Port
	serveArgs := func(extra ...string) []string { return append([]string{"serve", "--model", model}, extra...) }
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no model", []string{"serve"}, "--model"},
		{"port out of range", serveArgs("--port", "70000"), "--port 70000"},
		{"max-seqs 0", serveArgs("--max-seqs", "0"), "--max-seqs 0"},
		{"max-queue 0", serveArgs("--max-queue", "0"), "--max-queue 0"},
		{"negative max-tokens", serveArgs("--max-tokens", "-1"), "--max-tokens -1"},
		{"max-body-bytes 0", serveArgs("--max-body-bytes", "0"), "--max-body-bytes 0"},
		{"port in use", serveArgs("--port", strconv.Itoa(busy)), "--port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runBadInput(t, tc.args, false, tc.want) })
	}
}

// TestServeShutdown: the command serves until its context ends (SIGTERM),
// then lets a running stream finish before it returns.
func TestServeShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- runServe(ctx, []string{"--model", "../../testdata/llama3-tiny", "--port", "0", "--json"}, pw, io.Discard)
		pw.Close()
	}()
	var info struct{ URL, Model string }
	if err := json.NewDecoder(pr).Decode(&info); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	if info.Model != "llama3-tiny" {
		t.Errorf("model name %q, want the folder's name", info.Model)
	}
	const n = 240
	body := `{"prompt": "hello", "max_tokens": 240, "stream": true, "ignore_eos": true, "stream_options": {"include_usage": true}}`
	resp, err := http.Post(info.URL+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel() // as SIGTERM does
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("stream cut by shutdown: %v", err)
	}
	if !strings.Contains(string(rest), `"completion_tokens":`+strconv.Itoa(n)) || !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Errorf("stream after shutdown began does not end with %d tokens and [DONE]: %q", n, rest)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(time.Minute): // a hang guard
		t.Fatal("serve did not return after shutdown")
	}
}
