package packed

import (
	"strings"
	"testing"
)

func TestParseQuantConfigActBits(t *testing.T) {
	for _, c := range []struct {
		json string
		ok   bool
	}{
		{`{"quant_method": "gptq", "bits": 4}`, true},
		{`{"quant_method": "gptq", "bits": 4, "gollm_act_bits": 4}`, true},
		{`{"quant_method": "gptq", "bits": 4, "gollm_act_bits": 8}`, true},
		{`{"quant_method": "gptq", "bits": 4, "gollm_act_bits": 3}`, false},
		{`{"quant_method": "gptq", "bits": 4, "gollm_act_bits": 9}`, false},
		{`{"quant_method": "gptq", "bits": 4, "gollm_act_bits": -4}`, false},
		{`{"quant_method": "gptq", "bits": 4, "gollm_act_bits": "8"}`, false},
	} {
		_, err := ParseQuantConfig([]byte(c.json))
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v, want ok=%v", c.json, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "gollm_act_bits") {
			t.Errorf("%s: error %q does not name gollm_act_bits", c.json, err)
		}
	}
}
