package tts_test

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/tts"
	"switchboard/voicewait"
)

// counting is the real engine, counting its renders.
type counting struct {
	tts.Engine
	n atomic.Int32
}

func (c *counting) Render(ctx context.Context, r tts.Request) ([]byte, error) {
	c.n.Add(1)
	return c.Engine.Render(ctx, r)
}

func espeak(t *testing.T) tts.Engine {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("SKIPPED: espeak-ng IS NOT INSTALLED — the text-to-speech tests did not run; `make deps-test` installs it")
	}
	return tts.Espeak{}
}

func TestEspeakRender(t *testing.T) {
	e := espeak(t)
	ctx := context.Background()
	wav, err := e.Render(ctx, tts.Request{Text: "You are 3rd in line.", Language: "en-us"})
	if err != nil {
		t.Fatal(err)
	}
	info, err := voicewait.ParseWAV(wav)
	if err != nil {
		t.Fatal(err)
	}
	if info.SampleRate != 8000 || info.Channels != 1 || info.BitsPerSample != 16 || info.Encoding != "pcm" {
		t.Fatalf("rendered %+v, want 8 kHz mono 16-bit PCM", info)
	}
	if info.Duration < 500*time.Millisecond || info.Duration > 5*time.Second {
		t.Fatalf("a short sentence lasts %v", info.Duration)
	}
	// Faster speech is shorter; a voice variant renders too.
	fast, err := e.Render(ctx, tts.Request{Text: "You are 3rd in line.", Language: "en-us", Voice: "f2", Rate: 2})
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := voicewait.ParseWAV(fast); fi.Duration >= info.Duration {
		t.Fatalf("double speed lasts %v, normal %v", fi.Duration, info.Duration)
	}
	// Text that looks like an option is spoken, not obeyed.
	if _, err := e.Render(ctx, tts.Request{Text: "--version", Language: "en"}); err != nil {
		t.Fatal(err)
	}
}

func TestRequestValidate(t *testing.T) {
	for field, r := range map[string]tts.Request{
		"text":       {Text: " ", Language: "en"},
		"language":   {Text: "hi", Language: "klingon"},
		"voice":      {Text: "hi", Language: "en", Voice: "robot"},
		"speechRate": {Text: "hi", Language: "en", Rate: 3},
	} {
		err := r.Validate()
		var fe *tts.FieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%+v: got %v, want an error on %s", r, err, field)
		}
	}
	r := tts.Request{Text: " hi ", Language: "EN_us", Voice: "F1"}
	if err := r.Validate(); err != nil || r.Language != "en-us" || r.Voice != "f1" || r.Rate != 1 || r.Text != "hi" {
		t.Fatalf("canonical form %+v, %v", r, err)
	}
}

func TestCacheRendersOnce(t *testing.T) {
	eng := &counting{Engine: espeak(t)}
	c := &tts.Cache{Engine: eng, Dir: t.TempDir()}
	ctx := context.Background()
	r := tts.Request{Text: "Thank you for waiting.", Language: "en"}
	first, err := c.Render(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Render(ctx, tts.Request{Text: "Thank you for waiting. ", Language: "EN", Rate: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) || eng.n.Load() != 1 {
		t.Fatalf("the same request rendered %d times", eng.n.Load())
	}
	// Another voice is another rendering.
	if _, err := c.Render(ctx, tts.Request{Text: "Thank you for waiting.", Language: "en", Voice: "m3"}); err != nil {
		t.Fatal(err)
	}
	if eng.n.Load() != 2 {
		t.Fatalf("%d renders after a second voice, want 2", eng.n.Load())
	}
	// A second cache over the same directory (another process) finds it.
	other := &counting{Engine: eng.Engine}
	if _, err := (&tts.Cache{Engine: other, Dir: c.Dir}).Render(ctx, r); err != nil || other.n.Load() != 0 {
		t.Fatalf("a cache on the same directory rendered %d times (%v)", other.n.Load(), err)
	}
}

func TestCacheConcurrentRendersOnce(t *testing.T) {
	eng := &counting{Engine: espeak(t)}
	dir := t.TempDir()
	r := tts.Request{Text: "All our agents are busy. Please stay on the line.", Language: "en-gb"}
	const n = 12
	results := make([][]byte, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Separate caches over one directory, as separate processes would be.
			b, err := (&tts.Cache{Engine: eng, Dir: dir}).Render(context.Background(), r)
			if err != nil {
				t.Error(err)
			}
			results[i] = b
		}()
	}
	close(start)
	wg.Wait()
	if eng.n.Load() != 1 {
		t.Fatalf("%d concurrent requests rendered %d times, want once", n, eng.n.Load())
	}
	for i := range results {
		if len(results[i]) < 1000 || !bytes.Equal(results[i], results[0]) {
			t.Fatalf("result %d differs (%d bytes)", i, len(results[i]))
		}
	}
}
