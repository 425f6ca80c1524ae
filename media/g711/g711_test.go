package g711_test

import (
	"testing"

	"switchboard/media/g711"
)

// Codes and output values of the G.711 tables (1a for A-law, 2a for µ-law), scaled
// from their 13- and 14-bit ranges to 16 bits.
func TestDecodeKnownValues(t *testing.T) {
	for _, c := range []struct {
		law  g711.Law
		code uint8
		want int16
	}{
		{g711.ULaw, 0xFF, 0}, {g711.ULaw, 0x7F, 0}, {g711.ULaw, 0xFE, 8}, {g711.ULaw, 0x7E, -8},
		{g711.ULaw, 0xF0, 120}, {g711.ULaw, 0xEF, 132}, {g711.ULaw, 0x80, 32124}, {g711.ULaw, 0x00, -32124},
		{g711.ULaw, 0xAD, 4604}, {g711.ULaw, 0x8E, 17788},
		{g711.ALaw, 0xD5, 8}, {g711.ALaw, 0x55, -8}, {g711.ALaw, 0xD4, 24}, {g711.ALaw, 0xC5, 264},
		{g711.ALaw, 0xAA, 32256}, {g711.ALaw, 0x2A, -32256}, {g711.ALaw, 0x87, 4736},
	} {
		var got [1]int16
		g711.Decode(c.law, got[:], []uint8{c.code})
		if got[0] != c.want {
			t.Errorf("%v decode %#02x = %d, want %d", c.law, c.code, got[0], c.want)
		}
	}
}

// The encoders give the codes of the reference G.711 implementation for samples
// spread over the whole range, negative zero and the extremes included.
func TestEncodeKnownValues(t *testing.T) {
	samples := []int16{0, 0x1234, 0x4567, -0x4567, 0x7FFF, -0x8000, -1, 1, 4, 8, -8}
	wantU := []uint8{0xFF, 0xAD, 0x8E, 0x0E, 0x80, 0x00, 0x7E, 0xFF, 0xFE, 0xFE, 0x7E}
	wantA := []uint8{0xD5, 0x87, 0xA4, 0x24, 0xAA, 0x2A, 0x55, 0xD5, 0xD5, 0xD5, 0x55}
	gotU := make([]uint8, len(samples))
	gotA := make([]uint8, len(samples))
	g711.Encode(g711.ULaw, gotU, samples)
	g711.Encode(g711.ALaw, gotA, samples)
	for i, s := range samples {
		if gotU[i] != wantU[i] || g711.EncodeULaw(s) != wantU[i] {
			t.Errorf("µ-law encode %d = %#02x, want %#02x", s, gotU[i], wantU[i])
		}
		if gotA[i] != wantA[i] || g711.EncodeALaw(s) != wantA[i] {
			t.Errorf("A-law encode %d = %#02x, want %#02x", s, gotA[i], wantA[i])
		}
	}
}

// Every code survives a decode and re-encode (µ-law's negative zero becomes positive
// zero), decoded values grow with the code within each sign, and every sample
// encodes to the code whose value is nearest, within the width of its interval.
func TestRoundTripAndMonotony(t *testing.T) {
	for _, law := range []g711.Law{g711.ULaw, g711.ALaw} {
		for c := range 256 {
			var s [1]int16
			var back [1]uint8
			g711.Decode(law, s[:], []uint8{uint8(c)})
			g711.Encode(law, back[:], s[:])
			want := uint8(c)
			if law == g711.ULaw && c == 0x7F {
				want = 0xFF
			}
			if back[0] != want {
				t.Errorf("%v: %#02x → %d → %#02x", law, c, s[0], back[0])
			}
		}
		prev := int16(-32768)
		for v := -32768; v <= 32767; v += 7 {
			var code [1]uint8
			var dec [1]int16
			g711.Encode(law, code[:], []int16{int16(v)})
			g711.Decode(law, dec[:], code[:])
			if dec[0] < prev {
				t.Fatalf("%v: decoded value falls at %d: %d after %d", law, v, dec[0], prev)
			}
			prev = dec[0]
			if d := abs(int(dec[0]) - v); d > 1024 {
				t.Fatalf("%v: %d decodes back as %d", law, v, dec[0])
			}
		}
	}
}

func TestTranscode(t *testing.T) {
	all := make([]uint8, 256)
	for i := range all {
		all[i] = uint8(i)
	}
	for _, dir := range []struct{ from, to g711.Law }{{g711.ULaw, g711.ALaw}, {g711.ALaw, g711.ULaw}} {
		out := make([]uint8, 256)
		g711.Transcode(dir.from, dir.to, out, all)
		for c := range 256 {
			var a, b [1]int16
			g711.Decode(dir.from, a[:], all[c:c+1])
			g711.Decode(dir.to, b[:], out[c:c+1])
			// The transcoded value is the nearest the other law has: never further
			// than the width of its interval, which is 1/16 of the value's magnitude
			// (the segments' first intervals are 16 wide).
			if d := abs(int(a[0]) - int(b[0])); d > max(abs(int(a[0]))/16, 16) {
				t.Errorf("%v→%v %#02x: %d became %d", dir.from, dir.to, c, a[0], b[0])
			}
		}
		single := g711.ULawToALaw
		if dir.from == g711.ALaw {
			single = g711.ALawToULaw
		}
		for c := range 256 {
			if single(uint8(c)) != out[c] {
				t.Fatalf("single-code transcoding of %#02x differs", c)
			}
		}
	}
	same := make([]uint8, 256)
	g711.Transcode(g711.ALaw, g711.ALaw, same, all)
	if string(same) != string(all) {
		t.Fatal("transcoding to the same law changed codes")
	}
	if g711.DecodeULaw(g711.Silence(g711.ULaw)) != 0 || g711.DecodeALaw(g711.Silence(g711.ALaw)) != 8 {
		t.Fatal("silence codes")
	}
	if g711.ULaw.String() != "PCMU" || g711.ALaw.String() != "PCMA" {
		t.Fatal("names")
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func BenchmarkEncodeULaw(b *testing.B) {
	in := make([]int16, 160)
	for i := range in {
		in[i] = int16(i * 200)
	}
	out := make([]uint8, 160)
	for b.Loop() {
		g711.Encode(g711.ULaw, out, in)
	}
}
