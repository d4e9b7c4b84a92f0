package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestModelConfig: the config.json a run writes names the family --arch
// gave, from the description's model type and class, where the user's
// config leaves them out, and keeps what it states.
func TestModelConfig(t *testing.T) {
	for _, tc := range []struct {
		arch, in         string
		modelType, class string
	}{
		{"llama", `{}`, "llama", "LlamaForCausalLM"},
		{"opt", `{"architectures": ["Other"]}`, "opt", "OPTForCausalLM"},
		{"chatglm", `{"model_type": "chatglm"}`, "chatglm", "ChatGLMModel"},
		{"llama", `{"model_type": "mistral", "architectures": ["MistralForCausalLM"]}`, "mistral", "MistralForCausalLM"},
	} {
		t.Run(fmt.Sprintf("%s %s", tc.arch, tc.in), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.json")
			if err := os.WriteFile(path, []byte(tc.in), 0o644); err != nil {
				t.Fatal(err)
			}
			b, err := modelConfig(&Options{Arch: tc.arch, Config: path})
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				ModelType     string   `json:"model_type"`
				Architectures []string `json:"architectures"`
				DType         string   `json:"torch_dtype"`
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got.ModelType != tc.modelType || len(got.Architectures) != 1 || got.Architectures[0] != tc.class || got.DType != "float32" {
				t.Errorf("model_type %q, architectures %q, torch_dtype %q; want %q, [%q], float32", got.ModelType, got.Architectures, got.DType, tc.modelType, tc.class)
			}
		})
	}
	if got, want := ArchChoices(), "llama, opt or chatglm"; got != want {
		t.Errorf("ArchChoices() = %q, want %q", got, want)
	}
}
