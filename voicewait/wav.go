// Package voicewait is the voice waiting strategy's pure logic: the audio a strategy
// may play (WAV validation and the 8 kHz form the media worker plays), the queue
// position placeholders of its announcements, and the schedule of what a waiting
// caller hears when.
package voicewait

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// MaxAudioBytes is the largest audio file a strategy accepts (4 MB).
const MaxAudioBytes = 4 << 20

// WAV format codes a strategy accepts.
const (
	FormatPCM  = 1 // linear PCM, 8 or 16 bits
	FormatALaw = 6 // G.711 A-law
	FormatULaw = 7 // G.711 µ-law
)

// Bounds of an accepted WAV file.
const (
	minSampleRate = 8000
	maxSampleRate = 48000
	maxChannels   = 2
)

// AudioInfo describes a validated WAV file.
type AudioInfo struct {
	// Encoding is "pcm", "alaw" or "ulaw".
	Encoding      string        `json:"encoding"`
	SampleRate    int           `json:"sampleRate"`
	Channels      int           `json:"channels"`
	BitsPerSample int           `json:"bitsPerSample"`
	Duration      time.Duration `json:"-"`
	// DataOffset and DataLength locate the samples in the file.
	DataOffset int `json:"-"`
	DataLength int `json:"-"`
}

// ErrTooLarge is returned for a file above MaxAudioBytes.
var ErrTooLarge = fmt.Errorf("must be at most %d bytes (4 MB)", MaxAudioBytes)

// unknownSize is the chunk size streaming writers (espeak-ng --stdout among them) put
// in a header before they know the length; the data then runs to the end of the file.
const unknownSize = 0x7fff0000

// ParseWAV validates a WAV file: a RIFF/WAVE header, a fmt chunk with PCM (8 or 16
// bits) or G.711 (A-law or µ-law, 8 bits), a sample rate of 8–48 kHz, one or two
// channels, and a data chunk holding whole frames. Its errors say what is wrong in
// words fit for the person who uploaded the file.
func ParseWAV(b []byte) (AudioInfo, error) {
	var info AudioInfo
	if len(b) > MaxAudioBytes {
		return info, ErrTooLarge
	}
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return info, errors.New("is not a WAV file (no RIFF/WAVE header)")
	}
	var haveFmt bool
	var blockAlign int
	for off := 12; ; {
		if off+8 > len(b) {
			break
		}
		id := string(b[off : off+4])
		size := int(binary.LittleEndian.Uint32(b[off+4 : off+8]))
		body := off + 8
		switch id {
		case "fmt ":
			if size < 16 || body+16 > len(b) {
				return info, errors.New("has a truncated fmt chunk")
			}
			f := b[body:]
			code := int(binary.LittleEndian.Uint16(f[0:2]))
			info.Channels = int(binary.LittleEndian.Uint16(f[2:4]))
			info.SampleRate = int(binary.LittleEndian.Uint32(f[4:8]))
			blockAlign = int(binary.LittleEndian.Uint16(f[12:14]))
			info.BitsPerSample = int(binary.LittleEndian.Uint16(f[14:16]))
			if code == 0xfffe && size >= 40 && body+40 <= len(b) { // WAVE_FORMAT_EXTENSIBLE: the sub-format's code
				code = int(binary.LittleEndian.Uint16(f[24:26]))
			}
			switch {
			case code == FormatPCM && (info.BitsPerSample == 8 || info.BitsPerSample == 16):
				info.Encoding = "pcm"
			case code == FormatALaw && info.BitsPerSample == 8:
				info.Encoding = "alaw"
			case code == FormatULaw && info.BitsPerSample == 8:
				info.Encoding = "ulaw"
			default:
				return info, fmt.Errorf("has an unsupported encoding (format %d, %d bits): use 8/16-bit PCM or G.711 A-law/µ-law", code, info.BitsPerSample)
			}
			if info.SampleRate < minSampleRate || info.SampleRate > maxSampleRate {
				return info, fmt.Errorf("has a sample rate of %d Hz: it must be %d–%d Hz", info.SampleRate, minSampleRate, maxSampleRate)
			}
			if info.Channels < 1 || info.Channels > maxChannels {
				return info, fmt.Errorf("has %d channels: it must be mono or stereo", info.Channels)
			}
			if blockAlign != info.Channels*info.BitsPerSample/8 {
				return info, errors.New("has an inconsistent fmt chunk (block align)")
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return info, errors.New("has its data chunk before its fmt chunk")
			}
			n := len(b) - body
			if size < unknownSize {
				if size > n {
					return info, fmt.Errorf("is truncated: its data chunk announces %d bytes, %d are present", size, n)
				}
				n = size
			}
			n -= n % blockAlign
			if n == 0 {
				return info, errors.New("has no audio in its data chunk")
			}
			info.DataOffset, info.DataLength = body, n
			frames := n / blockAlign
			info.Duration = time.Duration(frames) * time.Second / time.Duration(info.SampleRate)
			return info, nil
		}
		if size >= unknownSize {
			break
		}
		off = body + size + size%2
	}
	if !haveFmt {
		return info, errors.New("has no fmt chunk")
	}
	return info, errors.New("has no data chunk")
}

// Telephone is the form the media worker plays: 8 kHz, mono, 16-bit PCM.
const TelephoneRate = 8000

// ToTelephone converts a validated WAV file to 8 kHz mono 16-bit PCM WAV: G.711 is
// expanded, channels are averaged and the rate is changed by linear interpolation.
func ToTelephone(b []byte) ([]byte, AudioInfo, error) {
	info, err := ParseWAV(b)
	if err != nil {
		return nil, info, err
	}
	data := b[info.DataOffset : info.DataOffset+info.DataLength]
	bytesPer := info.BitsPerSample / 8
	frames := info.DataLength / (bytesPer * info.Channels)
	mono := make([]int16, frames)
	for i := range frames {
		sum := 0
		for c := range info.Channels {
			p := data[(i*info.Channels+c)*bytesPer:]
			var v int16
			switch info.Encoding {
			case "alaw":
				v = alawToLinear(p[0])
			case "ulaw":
				v = ulawToLinear(p[0])
			default:
				if bytesPer == 1 {
					v = int16(int(p[0])-128) << 8
				} else {
					v = int16(binary.LittleEndian.Uint16(p))
				}
			}
			sum += int(v)
		}
		mono[i] = int16(sum / info.Channels)
	}
	out := Resample(mono, info.SampleRate, TelephoneRate)
	wav := EncodeWAV(out, TelephoneRate)
	res, err := ParseWAV(wav)
	return wav, res, err
}

// Resample changes samples from rate from to rate to by linear interpolation.
func Resample(in []int16, from, to int) []int16 {
	if from == to || len(in) == 0 {
		return in
	}
	n := int(int64(len(in)) * int64(to) / int64(from))
	if n == 0 {
		n = 1
	}
	out := make([]int16, n)
	for i := range out {
		pos := float64(i) * float64(from) / float64(to)
		j := int(pos)
		frac := pos - float64(j)
		a := float64(in[min(j, len(in)-1)])
		bv := float64(in[min(j+1, len(in)-1)])
		out[i] = int16(a + (bv-a)*frac)
	}
	return out
}

// EncodeWAV writes mono 16-bit PCM samples as a WAV file.
func EncodeWAV(samples []int16, rate int) []byte {
	data := len(samples) * 2
	b := make([]byte, 44+data)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+data))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], FormatPCM)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], uint32(rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(rate*2))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(data))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(s))
	}
	return b
}

func alawToLinear(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0f) << 4
	seg := int(a&0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

func ulawToLinear(u byte) int16 {
	u = ^u
	t := (int(u&0x0f) << 3) + 0x84
	t <<= (int(u) & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}
