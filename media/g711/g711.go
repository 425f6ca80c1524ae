// Package g711 converts between 16-bit linear PCM and ITU-T G.711 µ-law (PCMU) and
// A-law (PCMA), the codecs of telephone audio at 8 kHz.
//
// The encoders follow the G.711 quantisers bit for bit: µ-law on the 14 most
// significant bits of a sample (bias 33, eight segments, a 1-bit sign and the whole
// code inverted), A-law on the 13 most significant bits (eight segments, the even bits
// inverted with 0x55). The decoders return the middle of each quantisation interval
// scaled to 16 bits. Every conversion is a table lookup: decoding a code indexes a
// 256-entry table, encoding a sample indexes a table over its significant bits, and
// µ-law↔A-law transcoding indexes a 256-entry table built by decoding and re-encoding.
package g711

// Law is a G.711 companding law.
type Law uint8

// The two laws of G.711.
const (
	ULaw Law = iota // µ-law, RTP payload type 0 (PCMU)
	ALaw            // A-law, RTP payload type 8 (PCMA)
)

// String is the RTP encoding name of the law (PCMU or PCMA).
func (l Law) String() string {
	if l == ALaw {
		return "PCMA"
	}
	return "PCMU"
}

// Silence codes: the code of a zero sample.
const (
	ULawSilence = 0xFF
	ALawSilence = 0xD5
)

var (
	ulawDecode [256]int16
	alawDecode [256]int16
	ulawEncode [1 << 14]uint8 // indexed by the sample's 14 high bits (sample>>2 as unsigned)
	alawEncode [1 << 13]uint8 // indexed by the sample's 13 high bits (sample>>3 as unsigned)
	ulawToALaw [256]uint8
	alawToULaw [256]uint8
)

func init() {
	for i := range 256 {
		ulawDecode[i] = decodeULaw(uint8(i))
		alawDecode[i] = decodeALaw(uint8(i))
	}
	for i := range 1 << 14 {
		ulawEncode[i] = encodeULaw(int16(uint16(i) << 2))
	}
	for i := range 1 << 13 {
		alawEncode[i] = encodeALaw(int16(uint16(i) << 3))
	}
	for i := range 256 {
		ulawToALaw[i] = EncodeALaw(ulawDecode[i])
		alawToULaw[i] = EncodeULaw(alawDecode[i])
	}
}

// EncodeULaw returns the µ-law code of a sample.
func EncodeULaw(s int16) uint8 { return ulawEncode[uint16(s)>>2] }

// EncodeALaw returns the A-law code of a sample.
func EncodeALaw(s int16) uint8 { return alawEncode[uint16(s)>>3] }

// DecodeULaw returns the sample a µ-law code stands for.
func DecodeULaw(c uint8) int16 { return ulawDecode[c] }

// DecodeALaw returns the sample an A-law code stands for.
func DecodeALaw(c uint8) int16 { return alawDecode[c] }

// ULawToALaw transcodes a µ-law code to the A-law code of the same sample value.
func ULawToALaw(c uint8) uint8 { return ulawToALaw[c] }

// ALawToULaw transcodes an A-law code to the µ-law code of the same sample value.
func ALawToULaw(c uint8) uint8 { return alawToULaw[c] }

// Encode writes the codes of samples in law to dst, which must be at least as long.
func Encode(law Law, dst []uint8, samples []int16) {
	dst = dst[:len(samples)]
	if law == ALaw {
		for i, s := range samples {
			dst[i] = alawEncode[uint16(s)>>3]
		}
		return
	}
	for i, s := range samples {
		dst[i] = ulawEncode[uint16(s)>>2]
	}
}

// Decode writes the samples of codes in law to dst, which must be at least as long.
func Decode(law Law, dst []int16, codes []uint8) {
	dst = dst[:len(codes)]
	t := &ulawDecode
	if law == ALaw {
		t = &alawDecode
	}
	for i, c := range codes {
		dst[i] = t[c]
	}
}

// Transcode writes codes, encoded in law from, to dst encoded in law to (a copy when
// both are the same). dst must be at least as long as codes and may be codes itself.
func Transcode(from, to Law, dst, codes []uint8) {
	dst = dst[:len(codes)]
	switch {
	case from == to:
		copy(dst, codes)
	case from == ULaw:
		for i, c := range codes {
			dst[i] = ulawToALaw[c]
		}
	default:
		for i, c := range codes {
			dst[i] = alawToULaw[c]
		}
	}
}

// Silence returns the code of a zero sample in law.
func Silence(law Law) uint8 {
	if law == ALaw {
		return ALawSilence
	}
	return ULawSilence
}

const (
	ulawBias = 0x84 // 33 in the 14-bit domain, scaled to 16 bits
	ulawClip = 8159 // the largest magnitude µ-law represents, in the 14-bit domain
)

// segment returns the segment of a magnitude: the index of the first end point at or
// above it, 8 beyond the last.
func segment(v int, ends *[8]int) int {
	for i, e := range ends {
		if v <= e {
			return i
		}
	}
	return 8
}

var (
	ulawEnds = [8]int{0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF}
	alawEnds = [8]int{0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF}
)

// encodeULaw is the µ-law quantiser: the 14-bit magnitude plus the bias picks a
// segment and the four bits below its leading one; the code is inverted.
func encodeULaw(s int16) uint8 {
	v := int(s) >> 2
	mask := uint8(0xFF)
	if v < 0 {
		v = -v
		mask = 0x7F
	}
	v = min(v, ulawClip) + ulawBias>>2
	seg := segment(v, &ulawEnds)
	if seg >= 8 {
		return 0x7F ^ mask
	}
	return (uint8(seg<<4) | uint8(v>>(seg+1))&0x0F) ^ mask
}

func decodeULaw(c uint8) int16 {
	c = ^c
	t := (int(c&0x0F) << 3) + ulawBias
	t <<= (c & 0x70) >> 4
	if c&0x80 != 0 {
		return int16(ulawBias - t)
	}
	return int16(t - ulawBias)
}

// encodeALaw is the A-law quantiser on the 13-bit magnitude (one's complement for
// negative samples); even bits are inverted with 0x55 and the sign bit set for
// positive samples.
func encodeALaw(s int16) uint8 {
	v := int(s) >> 3
	mask := uint8(0xD5)
	if v < 0 {
		v = -v - 1
		mask = 0x55
	}
	seg := segment(v, &alawEnds)
	if seg >= 8 {
		return 0x7F ^ mask
	}
	a := uint8(seg << 4)
	if seg < 2 {
		a |= uint8(v>>1) & 0x0F
	} else {
		a |= uint8(v>>seg) & 0x0F
	}
	return a ^ mask
}

func decodeALaw(c uint8) int16 {
	c ^= 0x55
	t := int(c&0x0F) << 4
	switch seg := int(c&0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if c&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}
