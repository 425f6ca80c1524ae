package api

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
	"switchboard/tts"
	"switchboard/voicewait"
)

// registerVoiceWaiting adds voice waiting strategies, their audio files, the
// text-to-speech preview and an interaction's waiting plan. Admins write them;
// supervisors read them.
func (s *Server) registerVoiceWaiting(v1 *echo.Group) {
	dir := s.ttsDir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "switchboard-tts")
	}
	s.speech = &tts.Cache{Engine: tts.Espeak{}, Dir: dir}
	admin := requireRole(pgstore.RoleAdmin)
	readers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor)
	v1.POST("/waiting-strategies", s.createVoiceStrategy, s.authenticate, admin)
	v1.GET("/waiting-strategies", s.listVoiceStrategies, s.authenticate, readers)
	v1.GET("/waiting-strategies/:id", s.getVoiceStrategy, s.authenticate, readers)
	v1.PUT("/waiting-strategies/:id", s.replaceVoiceStrategy, s.authenticate, admin)
	v1.DELETE("/waiting-strategies/:id", s.deleteVoiceStrategy, s.authenticate, admin)
	v1.POST("/prompts", s.uploadVoiceAudio, s.authenticate, admin)
	v1.GET("/prompts", s.listVoiceAudio, s.authenticate, readers)
	v1.GET("/prompts/:id", s.getVoiceAudio, s.authenticate, readers)
	v1.GET("/prompts/:id/wav", s.getVoiceAudioWAV, s.authenticate, readers)
	v1.DELETE("/prompts/:id", s.deleteVoiceAudio, s.authenticate, admin)
	v1.POST("/tts/render", s.renderSpeech, s.authenticate, readers)
	v1.GET("/interactions/:id/waiting", s.getInteractionWaiting, s.authenticate, readers)
}

func (s *Server) createVoiceStrategy(c echo.Context) error {
	var in pgstore.NewVoiceWaitingStrategy
	if err := decode(c, &in); err != nil {
		return err
	}
	v, err := s.store.CreateVoiceWaitingStrategy(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, v)
}

func (s *Server) listVoiceStrategies(c echo.Context) error {
	list, err := s.store.ListVoiceWaitingStrategies(c.Request().Context(), principal(c).TenantID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": list})
}

func (s *Server) getVoiceStrategy(c echo.Context) error {
	v, err := s.store.GetVoiceWaitingStrategy(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Server) replaceVoiceStrategy(c echo.Context) error {
	var in pgstore.NewVoiceWaitingStrategy
	if err := decode(c, &in); err != nil {
		return err
	}
	v, err := s.store.ReplaceVoiceWaitingStrategy(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Server) deleteVoiceStrategy(c echo.Context) error {
	if err := s.store.DeleteVoiceWaitingStrategy(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func errAudioTooLarge() *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: "file", Message: voicewait.ErrTooLarge.Error()}
}

// uploadVoiceAudio takes a multipart/form-data body with the WAV in part "file" and
// an optional "name" (the file's name otherwise).
func (s *Server) uploadVoiceAudio(c echo.Context) error {
	req := c.Request()
	mt, params, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeMalformed,
			Message: "send the audio as multipart/form-data with the WAV file in part file"}
	}
	// Room for the multipart framing and the name around the largest file.
	mr := multipart.NewReader(http.MaxBytesReader(c.Response(), req.Body, voicewait.MaxAudioBytes+64<<10), params["boundary"])
	var file []byte
	var haveFile bool
	name := ""
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errAudioTooLarge()
		}
		if err != nil {
			return errMalformed("", "could not read the multipart body")
		}
		switch part.FormName() {
		case "file":
			b, err := io.ReadAll(io.LimitReader(part, voicewait.MaxAudioBytes+1))
			if errors.As(err, &tooLarge) || err == nil && len(b) > voicewait.MaxAudioBytes {
				return errAudioTooLarge()
			}
			if err != nil {
				return errMalformed("file", "could not read the file")
			}
			file, haveFile = b, true
			if name == "" {
				name = part.FileName()
			}
		case "name":
			b, err := io.ReadAll(io.LimitReader(part, 1024))
			if err != nil {
				return errMalformed("name", "could not read the name")
			}
			name = string(b)
		}
	}
	if !haveFile {
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: "file", Message: "is required: a WAV file in part file"}
	}
	a, err := s.store.CreateVoiceAudio(req.Context(), principal(c).TenantID, actor(c), name, file)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, a)
}

func (s *Server) listVoiceAudio(c echo.Context) error {
	list, err := s.store.ListVoiceAudio(c.Request().Context(), principal(c).TenantID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": list})
}

func (s *Server) getVoiceAudio(c echo.Context) error {
	a, err := s.store.GetVoiceAudio(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

func (s *Server) getVoiceAudioWAV(c echo.Context) error {
	b, err := s.store.VoiceAudioWAV(c.Request().Context(), principal(c).TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "audio/wav", b)
}

func (s *Server) deleteVoiceAudio(c echo.Context) error {
	if err := s.store.DeleteVoiceAudio(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// speak renders a request through the cache, mapping its errors to the API's.
func (s *Server) speak(ctx context.Context, r tts.Request, fieldPrefix string) ([]byte, error) {
	b, err := s.speech.Render(ctx, r)
	var fe *tts.FieldError
	switch {
	case errors.As(err, &fe):
		return nil, &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: fieldPrefix + fe.Field, Message: fe.Message}
	case errors.Is(err, tts.ErrNoEngine):
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: err.Error()}
	case err != nil:
		s.logger.Error("text-to-speech", "err", err)
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "text-to-speech failed"}
	}
	return b, nil
}

// renderSpeech answers the request spoken, as 8 kHz mono 16-bit PCM WAV: what the
// caller will hear. Announcements' position placeholders are spoken for position 1.
func (s *Server) renderSpeech(c echo.Context) error {
	var in tts.Request
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := voicewait.CheckPlaceholders(in.Text, in.Language); err != nil && in.Language != "" {
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: "text", Message: err.Error()}
	}
	in.Text = voicewait.RenderPosition(in.Text, in.Language, 1)
	b, err := s.speak(c.Request().Context(), in, "")
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "audio/wav", b)
}

// WaitingStep is one step of a caller's waiting plan.
type WaitingStep struct {
	voicewait.Step
	// StartSeconds and EndSeconds are offsets from the time the caller was queued.
	StartSeconds float64   `json:"startSeconds"`
	EndSeconds   float64   `json:"endSeconds"`
	StartsAt     time.Time `json:"startsAt"`
	EndsAt       time.Time `json:"endsAt"`
	// AudioID is the uploaded file the step plays, when it plays one.
	AudioID string `json:"audioId,omitempty"`
}

// WaitingPlan is what a queued caller hears: the step playing now and those to come.
type WaitingPlan struct {
	InteractionID string `json:"interactionId"`
	Status        string `json:"status"`
	// Waiting is false once the interaction has left the queue (offered, connected,
	// ended) or when its entry point has no strategy.
	Waiting    bool                          `json:"waiting"`
	Position   int                           `json:"position"`
	QueuedAt   time.Time                     `json:"queuedAt"`
	Elapsed    float64                       `json:"elapsedSeconds"`
	Strategy   *pgstore.VoiceWaitingStrategy `json:"strategy"`
	Current    *WaitingStep                  `json:"current"`
	Upcoming   []WaitingStep                 `json:"upcoming"`
	DropAt     *time.Time                    `json:"dropAt"`
	StepsTotal int                           `json:"stepsTotal"`
}

// maxUpcoming bounds the steps the plan lists after the current one.
const maxUpcoming = 10

// getInteractionWaiting computes a voice interaction's waiting plan from its
// strategy, the time it was queued and its queue position now (taken to hold for
// the rest of the wait).
func (s *Server) getInteractionWaiting(c echo.Context) error {
	p := principal(c)
	ctx := c.Request().Context()
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil {
		return errNotFound("no such interaction")
	}
	w, err := s.store.VoiceWaitingOf(ctx, p.TenantID, id)
	if err != nil {
		return err
	}
	if w.Channel != "voice" {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "only calls have a voice waiting plan"}
	}
	out := WaitingPlan{InteractionID: id, Status: w.Status, Position: w.Position, QueuedAt: w.QueuedAt, Strategy: w.Strategy,
		Upcoming: []WaitingStep{}}
	now := time.Now()
	out.Elapsed = now.Sub(w.QueuedAt).Seconds()
	if w.Strategy == nil || w.Status != "queued" {
		return c.JSON(http.StatusOK, out)
	}
	cfg := w.Strategy.Config
	var d voicewait.Durations
	for _, x := range []struct {
		field string
		part  voicewait.Part
		into  *time.Duration
	}{{"greeting", cfg.Greeting, &d.Greeting}, {"announcement", cfg.Announcement.Part, &d.Announcement},
		{"maxWaitMessage", cfg.MaxWaitMessage, &d.MaxWaitMessage}} {
		if !x.part.Enabled {
			continue
		}
		if *x.into, err = s.partDuration(ctx, p.TenantID, x.field, x.part, w.Position); err != nil {
			return err
		}
	}
	steps := voicewait.Plan(cfg, d, []voicewait.PositionChange{{At: 0, Position: w.Position}})
	elapsed := now.Sub(w.QueuedAt)
	i := voicewait.At(steps, elapsed)
	view := func(st voicewait.Step) WaitingStep {
		v := WaitingStep{Step: st, StartSeconds: st.Start.Seconds(), EndSeconds: st.End.Seconds(),
			StartsAt: w.QueuedAt.Add(st.Start), EndsAt: w.QueuedAt.Add(st.End)}
		part := map[voicewait.Kind]voicewait.Part{voicewait.KindGreeting: cfg.Greeting, voicewait.KindMusic: cfg.HoldMusic,
			voicewait.KindAnnouncement: cfg.Announcement.Part, voicewait.KindMaxWaitMessage: cfg.MaxWaitMessage}[st.Kind]
		if part.Source == voicewait.SourceFile {
			v.AudioID = part.AudioID
		} else if part.Source == voicewait.SourceTTS && st.Text == "" {
			v.Text = part.Text
		}
		return v
	}
	cur := view(steps[i])
	out.Waiting = true
	out.Current = &cur
	for _, st := range steps[i+1 : min(len(steps), i+1+maxUpcoming)] {
		out.Upcoming = append(out.Upcoming, view(st))
	}
	drop := w.QueuedAt.Add(time.Duration(cfg.MaxWaitSeconds) * time.Second)
	out.DropAt = &drop
	out.StepsTotal = len(steps)
	return c.JSON(http.StatusOK, out)
}

// partDuration is how long a part plays: an uploaded file's length, or the length of
// its text spoken (with the position rendered).
func (s *Server) partDuration(ctx context.Context, tenantID, field string, part voicewait.Part, position int) (time.Duration, error) {
	if part.Source == voicewait.SourceFile {
		a, err := s.store.GetVoiceAudio(ctx, tenantID, part.AudioID)
		if err != nil {
			return 0, err
		}
		return time.Duration(a.DurationMS) * time.Millisecond, nil
	}
	text := voicewait.RenderPosition(part.Text, part.Language, position)
	b, err := s.speak(ctx, tts.Request{Text: text, Language: part.Language, Voice: part.Voice, Rate: part.SpeechRate}, field+".")
	if err != nil {
		return 0, err
	}
	info, err := voicewait.ParseWAV(b)
	if err != nil {
		return 0, err
	}
	return info.Duration, nil
}
