package rtpengine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Recording is a call recorded to a stereo WAV file (8 kHz, 16-bit PCM): the caller
// on the left channel, the other side on the right. The file is written as the call
// goes, a second at a time, by a goroutine of its own so a slow disk never delays the
// audio; after each write the header is updated, so a file cut short by a crash is a
// valid WAV of all but its last second, and RepairRecording recovers that too.
type Recording struct {
	path string
	f    *os.File

	mu      sync.Mutex
	chunk   []byte   // being filled by the bridge's tick
	pending [][]byte // full chunks for the writer
	frames  int64    // frames handed to the recording
	closing bool
	err     error

	wake chan struct{}
	done chan struct{}
}

const (
	recordChannels  = 2
	recordFrameSize = FrameSamples * recordChannels * 2 // bytes of 20 ms
	recordChunk     = 50 * recordFrameSize              // one second
	wavHeaderSize   = 44
)

// CreateRecording creates dir/name.wav (and dir if needed) and starts writing it.
// name must be a plain file name (an interaction's or call's ID, say); an existing
// recording is never overwritten.
func CreateRecording(dir, name string) (*Recording, error) {
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\`) {
		return nil, fmt.Errorf("rtpengine: recording name %q must be a plain file name", name)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("rtpengine: recording directory: %w", err)
	}
	path := filepath.Join(dir, name+".wav")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("rtpengine: create recording: %w", err)
	}
	if _, err := f.Write(wavHeader(0)); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("rtpengine: create recording: %w", err)
	}
	r := &Recording{
		path:  path,
		f:     f,
		chunk: make([]byte, 0, recordChunk),
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	go r.writer()
	return r, nil
}

// Path is the recording's file.
func (r *Recording) Path() string { return r.path }

// Duration is how much audio the recording holds so far.
func (r *Recording) Duration() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Duration(r.frames) * Period
}

// write appends one frame of both channels; called by the bridge's tick.
func (r *Recording) write(left, right *[FrameSamples]int16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return
	}
	for i := range FrameSamples {
		r.chunk = binary.LittleEndian.AppendUint16(r.chunk, uint16(left[i]))
		r.chunk = binary.LittleEndian.AppendUint16(r.chunk, uint16(right[i]))
	}
	r.frames++
	if len(r.chunk) >= recordChunk {
		r.pending = append(r.pending, r.chunk)
		r.chunk = make([]byte, 0, recordChunk)
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// writer appends full chunks to the file, then fixes the header to cover them.
func (r *Recording) writer() {
	defer close(r.done)
	var size int64
	for {
		<-r.wake
		r.mu.Lock()
		chunks := r.pending
		r.pending = nil
		closing := r.closing
		if closing && len(r.chunk) > 0 {
			chunks = append(chunks, r.chunk)
			r.chunk = nil
		}
		r.mu.Unlock()
		var err error
		for _, c := range chunks {
			if err == nil {
				_, err = r.f.Write(c)
			}
			if err == nil {
				size += int64(len(c))
			}
		}
		if err == nil && len(chunks) > 0 {
			_, err = r.f.WriteAt(wavHeader(size), 0)
		}
		if closing {
			if err == nil {
				err = r.f.Sync()
			}
			err = errors.Join(err, r.f.Close())
		}
		if err != nil {
			r.mu.Lock()
			if r.err == nil {
				r.err = fmt.Errorf("rtpengine: write recording %s: %w", r.path, err)
			}
			r.mu.Unlock()
		}
		if closing {
			return
		}
	}
}

// Close writes what remains, with its final header, and closes the file; it returns
// the first write error, if any.
func (r *Recording) Close() error {
	r.mu.Lock()
	if !r.closing {
		r.closing = true
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	r.mu.Unlock()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// wavHeader is the 44-byte header of a stereo 8 kHz 16-bit PCM file of size data bytes.
func wavHeader(size int64) []byte {
	b := make([]byte, wavHeaderSize)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+size))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], recordChannels)
	binary.LittleEndian.PutUint32(b[24:], 8000)
	binary.LittleEndian.PutUint32(b[28:], 8000*recordChannels*2)
	binary.LittleEndian.PutUint16(b[32:], recordChannels*2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(size))
	return b
}

// RepairRecording fixes the header of a recording whose writing was cut short (the
// process died): the data runs to the end of the file, less a partial frame, which
// is cut off. It returns the recording's duration. A file that is not a recording of
// this package is refused untouched.
func RepairRecording(path string) (time.Duration, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	head := make([]byte, wavHeaderSize)
	if _, err := io.ReadFull(f, head); err != nil {
		return 0, fmt.Errorf("rtpengine: %s is not a recording: %w", path, err)
	}
	want := wavHeader(0)
	// Everything but the two sizes must be this package's header.
	if string(head[0:4]) != "RIFF" || string(head[8:40]) != string(want[8:40]) {
		return 0, fmt.Errorf("rtpengine: %s is not a recording (its header differs)", path)
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size() - wavHeaderSize
	size -= size % (recordChannels * 2) // whole sample pairs
	if err := f.Truncate(wavHeaderSize + size); err != nil {
		return 0, err
	}
	if _, err := f.WriteAt(wavHeader(size), 0); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return time.Duration(size/(recordChannels*2)) * time.Second / 8000, nil
}
