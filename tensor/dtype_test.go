package tensor

import (
	"math"
	"testing"
)

func TestBF16RoundNearestEven(t *testing.T) {
	cases := []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1.0 exact
		{0x3f808000, 0x3f80}, // tie, even stays
		{0x3f818000, 0x3f82}, // tie, odd rounds up
		{0x3f808001, 0x3f81}, // above tie
		{0x3f807fff, 0x3f80}, // below tie
		{0x7f7fffff, 0x7f80}, // max float rounds to inf
		{0xff800000, 0xff80}, // -inf
		{0x7fc00000, 0x7fc0}, // NaN
		{0x7f800001, 0x7fc0}, // signalling NaN stays NaN
		{0x00000001, 0x0000}, // tiny denormal
	}
	for _, c := range cases {
		got := F32ToBF16(math.Float32frombits(c.in))
		if got != c.want {
			t.Errorf("F32ToBF16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
}

func TestF16RoundTrip(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		if back := F32ToF16(f); back != uint16(h) {
			t.Fatalf("f16 %#04x -> %v -> %#04x", h, f, back)
		}
	}
	if F32ToF16(1.0009765625/2+0.5) != 0x3c00 { // 1 + 2^-11 is a tie: rounds to even (1.0)
		t.Errorf("tie not rounded to even: %#04x", F32ToF16(1.00048828125))
	}
}

func TestF8(t *testing.T) {
	cases := []struct {
		b    uint8
		e4m3 float32
		e5m2 float32
	}{
		{0x00, 0, 0},
		{0x38, 1, 0.5},     // e4m3: exp 7 -> 1.0; e5m2: 0 01110 00 -> 2^-1
		{0x3c, 1, 1},       // e5m2 0 01111 00 = 1; e4m3 0 0111 100 = 1.5? see below
		{0x7b, 352, 57344}, // e5m2 max normal
		{0x01, 1.0 / 512, 1.0 / 65536},
		{0xb8, -1, -0.5},
	}
	cases[2].e4m3 = 1.5
	if F8E4M3ToF32(0x7e) != 448 {
		t.Errorf("e4m3 max = %v", F8E4M3ToF32(0x7e))
	}
	for _, c := range cases {
		if got := F8E4M3ToF32(c.b); got != c.e4m3 {
			t.Errorf("e4m3 %#02x = %v, want %v", c.b, got, c.e4m3)
		}
		if got := F8E5M2ToF32(c.b); got != c.e5m2 {
			t.Errorf("e5m2 %#02x = %v, want %v", c.b, got, c.e5m2)
		}
	}
	if !math.IsNaN(float64(F8E4M3ToF32(0x7f))) {
		t.Error("e4m3 0x7f should be NaN")
	}
}

func TestEncodeConvert(t *testing.T) {
	v := []float32{0, 1, -2.5, 3.14159, 65504, 1e-3}
	for _, dt := range []DType{F32, F16, BF16} {
		tt, err := Encode("x", dt, []int{2, 3}, v)
		if err != nil {
			t.Fatal(err)
		}
		back, err := tt.Float32()
		if err != nil {
			t.Fatal(err)
		}
		tol := map[DType]float64{F32: 0, F16: 1e-3, BF16: 8e-3}[dt]
		for i := range v {
			if d := math.Abs(float64(back[i] - v[i])); d > tol*math.Abs(float64(v[i]))+1e-7 {
				t.Errorf("%s: %v -> %v", dt, v[i], back[i])
			}
		}
	}
	if _, err := Encode("x", I8, []int{1}, []float32{1}); err == nil {
		t.Error("encoding floats as I8 should fail")
	}
}

func TestParseDType(t *testing.T) {
	for _, s := range []string{"F32", "F16", "BF16", "F64", "I8", "U8", "I16", "I32", "I64", "BOOL", "F8_E4M3", "F8_E5M2"} {
		d, err := ParseDType(s)
		if err != nil || d.String() != s || d.Size() == 0 {
			t.Errorf("ParseDType(%q) = %v, %v", s, d, err)
		}
	}
	if _, err := ParseDType("F12"); err == nil {
		t.Error("F12 accepted")
	}
}
