package rtpengine

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"switchboard/media/g711"
	"switchboard/voicewait"
)

// Audio is a sound ready to play: 8 kHz mono samples cut into 20 ms frames (the last
// one padded with silence) and encoded once in both G.711 laws, so playing it to any
// number of legs costs no conversion. It is immutable and may be shared.
type Audio struct {
	pcm  []int16
	code [2][]byte // by g711.Law
}

// NewAudio makes an Audio of 8 kHz mono 16-bit samples.
func NewAudio(samples []int16) *Audio {
	n := (len(samples) + FrameSamples - 1) / FrameSamples * FrameSamples
	pcm := make([]int16, n)
	copy(pcm, samples)
	a := &Audio{pcm: pcm}
	for _, law := range []g711.Law{g711.ULaw, g711.ALaw} {
		a.code[law] = make([]byte, n)
		g711.Encode(law, a.code[law], pcm)
	}
	return a
}

// LoadWAV makes an Audio of a WAV file: 8 or 16-bit PCM or G.711 A-law/µ-law, mono or
// stereo, 8–48 kHz (see voicewait.ParseWAV). Other rates are resampled to 8 kHz and
// stereo is mixed down; the error says what is wrong with a file that is refused.
func LoadWAV(b []byte) (*Audio, error) {
	tel, info, err := voicewait.ToTelephone(b)
	if err != nil {
		return nil, fmt.Errorf("WAV file %w", err)
	}
	data := tel[info.DataOffset : info.DataOffset+info.DataLength]
	samples := make([]int16, len(data)/2)
	for i := range samples {
		samples[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
	}
	return NewAudio(samples), nil
}

// LoadWAVFile reads and loads a WAV file (see LoadWAV).
func LoadWAVFile(path string) (*Audio, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	a, err := LoadWAV(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// Duration is how long the audio plays, in whole frames.
func (a *Audio) Duration() time.Duration {
	return time.Duration(a.Frames()) * Period
}

// Frames is the number of 20 ms frames of the audio.
func (a *Audio) Frames() int { return len(a.pcm) / FrameSamples }

// Samples returns the audio's samples, padded to whole frames; they must not be changed.
func (a *Audio) Samples() []int16 { return a.pcm }

// frame returns frame i encoded in law.
func (a *Audio) frame(law g711.Law, i int) []byte {
	return a.code[law][i*FrameSamples : (i+1)*FrameSamples]
}

// Item is one entry of a playlist: a sound played once or looped, or silence.
type Item struct {
	// Audio is what plays; nil plays silence (frames of zero samples, which keep the
	// peer's RTP timers and NAT bindings alive).
	Audio *Audio
	// Loop repeats Audio until Duration has passed (for ever when Duration is 0).
	// A looped Audio goes on where its last loop on the same leg stopped, so hold
	// music interrupted by an announcement resumes rather than restarting.
	Loop bool
	// Duration is the item's length: a one-shot Audio shorter than it is followed by
	// silence, a longer one is cut. 0 plays a one-shot Audio once through, and loops
	// or silence for ever (an endless item is only useful last).
	Duration time.Duration
	// Start skips the beginning of a one-shot Audio (resuming an announcement cut by
	// a new schedule, say).
	Start time.Duration
}

// Playback is a playlist started on a leg.
type Playback struct {
	items []Item
	done  chan struct{}

	// Played by the tick of the leg's task, under the leg's lock.
	index     int // current item
	played    int // frames of the current item played
	frameOf   int // next frame of the current audio
	started   bool
	finished  bool
	positions map[*Audio]int // the leg's: where each looped audio stopped

	current atomic.Int32
}

// Done is closed when the playlist has played to its end, or was stopped or replaced.
func (p *Playback) Done() <-chan struct{} { return p.done }

// Item is the index of the item playing now (len(items) once done).
func (p *Playback) Item() int { return int(p.current.Load()) }

func newPlayback(items []Item, positions map[*Audio]int) *Playback {
	return &Playback{items: items, done: make(chan struct{}), positions: positions}
}

// next returns the next frame in law, false once the playlist is over (and then
// closes Done).
func (p *Playback) next(law g711.Law) ([]byte, bool) {
	for p.index < len(p.items) {
		it := &p.items[p.index]
		limit := -1 // frames, -1 for none
		if it.Duration > 0 {
			limit = int((it.Duration + Period - 1) / Period)
		}
		if !p.started {
			p.started = true
			p.played = 0
			p.frameOf = 0
			if it.Audio != nil {
				if it.Loop {
					p.frameOf = p.positions[it.Audio] % it.Audio.Frames()
				} else {
					p.frameOf = int(it.Start / Period)
				}
			}
		}
		if limit >= 0 && p.played >= limit {
			p.advance()
			continue
		}
		if it.Audio == nil || (!it.Loop && p.frameOf >= it.Audio.Frames()) {
			if limit < 0 && (it.Audio != nil || p.index < len(p.items)-1) {
				// A one-shot has ended, or endless silence would hide what follows.
				p.advance()
				continue
			}
			p.played++
			return silence[law][:], true
		}
		if p.frameOf >= it.Audio.Frames() {
			p.frameOf = 0
		}
		f := it.Audio.frame(law, p.frameOf)
		p.frameOf++
		p.played++
		if it.Loop {
			p.positions[it.Audio] = p.frameOf
		}
		return f, true
	}
	p.finish()
	return nil, false
}

func (p *Playback) advance() {
	p.index++
	p.started = false
	p.current.Store(int32(p.index))
}

// finish closes Done once.
func (p *Playback) finish() {
	if !p.finished {
		p.finished = true
		p.current.Store(int32(len(p.items)))
		close(p.done)
	}
}

// silence holds a frame of zero samples in each law.
var silence = func() (s [2][FrameSamples]byte) {
	for i := range FrameSamples {
		s[g711.ULaw][i] = g711.ULawSilence
		s[g711.ALaw][i] = g711.ALawSilence
	}
	return s
}()
