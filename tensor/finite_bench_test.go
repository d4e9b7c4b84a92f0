package tensor

import "testing"

// BenchmarkFiniteCheck compares conversion alone with conversion plus the
// NaN/Inf check (Float32Finite) and the check alone (NonFinite) on a
// 32000×768 BF16 / F16 tensor (a ~110M model's embedding).
func BenchmarkFiniteCheck(b *testing.B) {
	v := make([]float32, 32000*768)
	for i := range v {
		v[i] = float32(i%1000)/1000 - 0.5
	}
	for _, dt := range []DType{BF16, F16} {
		t, _ := Encode("w", dt, []int{32000, 768}, v)
		b.Run(dt.String()+"/Float32", func(b *testing.B) {
			b.SetBytes(int64(len(t.Data)))
			for i := 0; i < b.N; i++ {
				t.Float32()
			}
		})
		b.Run(dt.String()+"/Float32Finite", func(b *testing.B) {
			b.SetBytes(int64(len(t.Data)))
			for i := 0; i < b.N; i++ {
				t.Float32Finite()
			}
		})
		b.Run(dt.String()+"/NonFinite", func(b *testing.B) {
			b.SetBytes(int64(len(t.Data)))
			for i := 0; i < b.N; i++ {
				t.NonFinite()
			}
		})
	}
}
