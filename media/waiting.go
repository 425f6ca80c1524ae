package media

import (
	"context"
	"errors"
	"fmt"
	"time"

	"switchboard/media/rtpengine"
	"switchboard/pgstore"
	"switchboard/tts"
	"switchboard/voicewait"
	"switchboard/workflows"
)

// The waiting treatment: while an answered call waits in its queue, the caller
// hears the voice waiting strategy of the number they called (voicewait.Plan): the
// greeting, hold music looped, announcements with their current queue position,
// the max-wait message, and at the maximum wait the call is dropped. The host that
// holds the call plays it from the call's answer: its timing is the call's media,
// which lives and dies with this process. Bridging the caller to an agent ends it.

// WaitingMedia is what the waiting treatment reads (a *pgstore.Store): a call's place
// in its queue with its number's strategy, and the audio files strategies play.
type WaitingMedia interface {
	VoiceWaitingOf(ctx context.Context, tenantID, interactionID string) (pgstore.VoiceWaiting, error)
	VoiceAudioWAV(ctx context.Context, tenantID, id string) ([]byte, error)
}

// Speech renders text-to-speech parts as 8 kHz WAV (a *tts.Cache).
type Speech interface {
	Render(ctx context.Context, r tts.Request) ([]byte, error)
}

// waitingLookups bounds the wait for the interaction's read model, which its
// workflow writes a moment after the start.
const waitingLookups = 20

// playWaiting plays the call's waiting treatment until the call is bridged, ends, or
// reaches its maximum wait (then it is dropped).
func (s *Server) playWaiting(c *call) {
	if s.waiting == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	w, err := s.waitingOf(ctx, c)
	if err != nil || w.Strategy == nil || w.Status != string(pgstore.InteractionQueued) {
		if err != nil && ctx.Err() == nil {
			s.log.Warn("SIP waiting treatment not played", "call_id", c.id, "interaction_id", c.interactionID, "error", err)
		}
		return
	}
	cfg := w.Strategy.Config
	load := func(part voicewait.Part, position int) (*rtpengine.Audio, error) {
		return s.partAudio(ctx, c.tenantID, part, position)
	}
	parts := map[voicewait.Kind]*rtpengine.Audio{}
	var d voicewait.Durations
	for _, p := range []struct {
		kind voicewait.Kind
		part voicewait.Part
		into *time.Duration
	}{{voicewait.KindGreeting, cfg.Greeting, &d.Greeting}, {voicewait.KindMusic, cfg.HoldMusic, nil},
		{voicewait.KindAnnouncement, cfg.Announcement.Part, &d.Announcement}, {voicewait.KindMaxWaitMessage, cfg.MaxWaitMessage, &d.MaxWaitMessage}} {
		a, err := load(p.part, w.Position)
		if err != nil {
			s.log.Warn("SIP waiting treatment: a part is not played", "call_id", c.id, "part", string(p.kind), "error", err)
			continue
		}
		if a == nil {
			continue
		}
		parts[p.kind] = a
		if p.into != nil {
			*p.into = a.Duration()
		}
	}
	steps := voicewait.Plan(cfg, d, []voicewait.PositionChange{{At: 0, Position: w.Position}})
	queued := w.QueuedAt
	for i := voicewait.At(steps, time.Since(queued)); i < len(steps); i++ {
		st := steps[i]
		now := time.Since(queued)
		left := st.End - max(st.Start, now)
		var item rtpengine.Item
		switch st.Kind {
		case voicewait.KindDrop:
			if c.bridged() {
				return
			}
			s.log.Info("SIP caller dropped at the maximum wait", "call_id", c.id, "interaction_id", c.interactionID)
			c.hangup(workflows.MaxWaitReason, true)
			s.tellAsync(func(ctx context.Context) error {
				return s.ix.CallerHungUp(ctx, c.tenantID, c.interactionID, workflows.MaxWaitReason)
			})
			return
		case voicewait.KindAnnouncement:
			// The position as it is now.
			a := parts[st.Kind]
			if voicewait.HasPosition(cfg.Announcement.Text) {
				if now, err := s.waiting.VoiceWaitingOf(ctx, c.tenantID, c.interactionID); err == nil {
					if now.Status != string(pgstore.InteractionQueued) {
						return
					}
					if fresh, err := load(cfg.Announcement.Part, now.Position); err == nil {
						a = fresh
					}
				}
			}
			item = rtpengine.Item{Audio: a, Duration: left}
		case voicewait.KindMusic:
			item = rtpengine.Item{Audio: parts[st.Kind], Loop: true, Duration: left}
		case voicewait.KindGreeting, voicewait.KindMaxWaitMessage:
			item = rtpengine.Item{Audio: parts[st.Kind], Duration: left, Start: max(0, now-st.Start)}
		default:
			item = rtpengine.Item{Duration: left}
		}
		if left <= 0 {
			continue
		}
		if c.bridged() || ctx.Err() != nil {
			return
		}
		pb := c.leg.Play(item)
		select {
		case <-pb.Done():
		case <-ctx.Done():
			return
		}
		if c.bridged() {
			return // the agent answered: the bridge took over the leg
		}
	}
}

// partAudio loads a strategy's part: its file, or its text spoken with position;
// nil for a part that is off.
func (s *Server) partAudio(ctx context.Context, tenantID string, part voicewait.Part, position int) (*rtpengine.Audio, error) {
	if !part.Enabled {
		return nil, nil
	}
	var (
		b   []byte
		err error
	)
	switch part.Source {
	case voicewait.SourceFile:
		b, err = s.waiting.VoiceAudioWAV(ctx, tenantID, part.AudioID)
	case voicewait.SourceTTS:
		if s.speech == nil {
			return nil, errors.New("no speech engine for a text-to-speech part")
		}
		text := voicewait.RenderPosition(part.Text, part.Language, position)
		b, err = s.speech.Render(ctx, tts.Request{Text: text, Language: part.Language, Voice: part.Voice, Rate: part.SpeechRate})
	default:
		return nil, fmt.Errorf("part source %q", part.Source)
	}
	if err != nil {
		return nil, err
	}
	return rtpengine.LoadWAV(b)
}

// Hold puts the caller of a connected call on hold, hearing the hold music of their
// number's waiting strategy (silence without one), or takes them off it.
func (s *Server) Hold(ctx context.Context, in workflows.MediaHoldRequest) error {
	c := s.findCall(in.CallID)
	if c == nil {
		return nil
	}
	c.mu.Lock()
	b := c.bridge
	c.mu.Unlock()
	if b == nil {
		return nil // not bridged (yet, or any more): nothing to hold
	}
	if !in.Hold {
		if err := b.Unhold(c.leg); err != nil && !errors.Is(err, rtpengine.ErrClosed) {
			s.log.Debug("SIP unhold", "call_id", c.id, "error", err)
		}
		return nil
	}
	music := rtpengine.Item{} // silence, for ever
	if s.waiting != nil && c.interactionID != "" {
		if w, err := s.waiting.VoiceWaitingOf(ctx, c.tenantID, c.interactionID); err == nil && w.Strategy != nil {
			if a, err := s.partAudio(ctx, c.tenantID, w.Strategy.HoldMusic, 0); err == nil && a != nil {
				music = rtpengine.Item{Audio: a, Loop: true}
			}
		}
	}
	if _, err := b.Hold(c.leg, music); err != nil && !errors.Is(err, rtpengine.ErrClosed) {
		s.log.Debug("SIP hold", "call_id", c.id, "error", err)
	}
	return nil
}

// waitingOf reads the call's place in its queue, once its workflow has written it.
func (s *Server) waitingOf(ctx context.Context, c *call) (pgstore.VoiceWaiting, error) {
	var err error
	for range waitingLookups {
		var w pgstore.VoiceWaiting
		if w, err = s.waiting.VoiceWaitingOf(ctx, c.tenantID, c.interactionID); err == nil {
			return w, nil
		}
		if !errors.Is(err, pgstore.ErrNotFound) {
			return w, err
		}
		select {
		case <-ctx.Done():
			return w, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return pgstore.VoiceWaiting{}, err
}

// bridged reports whether the call is connected to an agent.
func (c *call) bridged() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bridge != nil
}
