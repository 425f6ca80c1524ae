// Package tts turns the text of a voice waiting strategy's messages into speech: an
// Engine renders a request to an 8 kHz mono 16-bit PCM WAV file (the form the media
// worker plays), Espeak is the engine backed by espeak-ng, and Cache renders each
// distinct request once and keeps the result, content-addressed, in a directory.
package tts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"switchboard/voicewait"
)

// Request is a text to speak.
type Request struct {
	Text string `json:"text"`
	// Language is the speech language (en, en-us, de, fr, hr, …).
	Language string `json:"language"`
	// Voice is an optional voice variant (f1…f5 female, m1…m7 male; empty: the
	// language's own voice).
	Voice string `json:"voice,omitempty"`
	// Rate is a factor of the normal speaking speed, 0.5–2 (0 means 1).
	Rate float64 `json:"speechRate,omitempty"`
}

// Engine renders speech.
type Engine interface {
	// Render returns the request spoken, as 8 kHz mono 16-bit PCM WAV.
	Render(ctx context.Context, r Request) ([]byte, error)
}

// MaxText is the longest text a request may hold, in characters.
const MaxText = 2000

// FieldError names the field of a request that is wrong.
type FieldError struct {
	Field, Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

var language = regexp.MustCompile(`^[a-z]{2,3}(-[a-z0-9]{2,8}){0,2}$`)

// Languages are the speech languages offered; each may carry a region or variety
// (en-us, en-gb, pt-br, es-419).
var Languages = []string{"af", "ar", "bg", "bs", "ca", "cs", "cy", "da", "de", "el", "en", "es", "et", "fi", "fr",
	"ga", "hi", "hr", "hu", "id", "is", "it", "ja", "ko", "lt", "lv", "mk", "ms", "nb", "nl", "pl", "pt", "ro",
	"ru", "sk", "sl", "sq", "sr", "sv", "sw", "ta", "th", "tr", "uk", "vi", "zh"}

// Voices are the voice variants offered.
var Voices = []string{"f1", "f2", "f3", "f4", "f5", "m1", "m2", "m3", "m4", "m5", "m6", "m7"}

// Validate checks the request and puts its language and voice in canonical form.
func (r *Request) Validate() error {
	r.Text = strings.TrimSpace(r.Text)
	if r.Text == "" || utf8.RuneCountInString(r.Text) > MaxText {
		return &FieldError{"text", fmt.Sprintf("must be 1–%d characters", MaxText)}
	}
	r.Language = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(r.Language), "_", "-"))
	base, _, _ := strings.Cut(r.Language, "-")
	if !language.MatchString(r.Language) || !contains(Languages, base) {
		return &FieldError{"language", "must be one of " + strings.Join(Languages, ", ") + ", optionally with a region (en-us)"}
	}
	r.Voice = strings.ToLower(strings.TrimSpace(r.Voice))
	if r.Voice != "" && !contains(Voices, r.Voice) {
		return &FieldError{"voice", "must be empty or one of " + strings.Join(Voices, ", ")}
	}
	if r.Rate == 0 {
		r.Rate = 1
	}
	if math.IsNaN(r.Rate) || r.Rate < 0.5 || r.Rate > 2 {
		return &FieldError{"speechRate", "must be between 0.5 and 2"}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Key is the content address of a request's rendering.
func (r Request) Key() string {
	h := sha256.New()
	for _, s := range []string{r.Language, r.Voice, strconv.FormatFloat(r.Rate, 'f', 3, 64), r.Text} {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Espeak renders with the espeak-ng command.
type Espeak struct {
	// Path is the espeak-ng binary; empty finds espeak-ng on the PATH.
	Path string
}

// ErrNoEngine is returned when the espeak-ng binary is not installed.
var ErrNoEngine = errors.New("text-to-speech is not available: espeak-ng is not installed")

// normalWPM is espeak-ng's default speed, words per minute.
const normalWPM = 175

// Render speaks the request with espeak-ng and converts its WAV to 8 kHz mono.
func (e Espeak) Render(ctx context.Context, r Request) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	path := e.Path
	if path == "" {
		p, err := exec.LookPath("espeak-ng")
		if err != nil {
			return nil, ErrNoEngine
		}
		path = p
	}
	voice := r.Language
	if r.Voice != "" {
		voice += "+" + r.Voice
	}
	// The text goes on standard input, so nothing in it is read as an option.
	cmd := exec.CommandContext(ctx, path, "-v", voice, "-s", strconv.Itoa(int(math.Round(normalWPM*r.Rate))), "--stdout")
	cmd.Stdin = strings.NewReader(r.Text)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("espeak-ng: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	wav, _, err := voicewait.ToTelephone(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("espeak-ng output %w", err)
	}
	return wav, nil
}

// Cache renders each distinct request once and keeps its WAV in Dir, named by the
// request's Key. Renders of the same request wait for one another — in this process
// and in any other sharing the directory, through a file lock — so the engine runs
// once per request.
type Cache struct {
	Engine Engine
	Dir    string
}

// Render returns the cached rendering of r, rendering it first if there is none.
func (c *Cache) Render(ctx context.Context, r Request) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	key := r.Key()
	path := filepath.Join(c.Dir, key[:2], key+".wav")
	if b, err := os.ReadFile(path); err == nil {
		return b, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("speech cache: %w", err)
	}
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("speech cache: %w", err)
	}
	defer lock.Close()
	if err := flock(ctx, lock); err != nil {
		return nil, err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if b, err := os.ReadFile(path); err == nil { // rendered while this one waited
		return b, nil
	}
	b, err := c.Engine.Render(ctx, r)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), key+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("speech cache: %w", err)
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if werr == nil && cerr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("speech cache: %w", errors.Join(werr, cerr))
	}
	return b, nil
}

// flock takes an exclusive lock on f, giving up when ctx ends.
func flock(ctx context.Context, f *os.File) error {
	done := make(chan error, 1)
	go func() { done <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("speech cache lock: %w", err)
		}
		return nil
	case <-ctx.Done():
		// The goroutine holds the lock if it gets it; closing f releases it.
		return ctx.Err()
	}
}
