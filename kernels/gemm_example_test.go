package kernels_test

import (
	"fmt"

	"github.com/llmcbench/gollm/kernels"
)

// A linear layer with 2 inputs and 3 outputs applied to 2 tokens: w is
// [out×in] as in PyTorch's nn.Linear.
func ExampleLinear() {
	x := []float32{
		1, 2, // token 0
		3, 4, // token 1
	}
	w := []float32{
		1, 0, // output 0 = x0
		0, 1, // output 1 = x1
		1, 1, // output 2 = x0 + x1
	}
	bias := []float32{0, 0, 10}
	dst := make([]float32, 2*3)
	kernels.Linear(dst, x, 2, 2, w, 3, bias)
	fmt.Println(dst)
	// Output: [1 2 13 3 4 17]
}

// C = 2·A·Bᵀ + C with A 2×3, B 2×3 (so Bᵀ is 3×2) and C 2×2.
func ExampleSgemm() {
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{1, 0, 0, 0, 1, 0}
	c := []float32{1, 1, 1, 1}
	kernels.Sgemm(false, true, 2, 2, 3, 2, a, 3, b, 3, 1, c, 2)
	fmt.Println(c)
	// Output: [3 5 9 11]
}
