package api_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/voicewait"
)

func multipartWAV(t *testing.T, name string, file []byte) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if name != "" {
		w.WriteField("name", name)
	}
	fw, err := w.CreateFormFile("file", "hold.wav")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(file)
	w.Close()
	return &buf, w.FormDataContentType()
}

func tone(seconds, rate int) []byte {
	s := make([]int16, seconds*rate)
	for i := range s {
		s[i] = int16((i % 32) * 900)
	}
	return voicewait.EncodeWAV(s, rate)
}

func TestVoiceWaitingAPI(t *testing.T) {
	x := newDNCAPI(t)

	// Upload: a good file, then refusals naming the field.
	body, ct := multipartWAV(t, "Hold music", tone(20, 16000))
	audio := decodeJSON[pgstore.VoiceAudio](t, x.do(t, "POST", "/v1/prompts", x.admin, ct, body, http.StatusCreated))
	if audio.DurationMS != 20000 || audio.Name != "Hold music" {
		t.Fatalf("uploaded %+v", audio)
	}
	body, ct = multipartWAV(t, "x", []byte("RIFF\x00\x00\x00\x00AVI LIST"))
	x.wantError(t, "POST", "/v1/prompts", x.admin, ct, body, 422, "invalid_field", "file")
	body, ct = multipartWAV(t, "big", tone(140, 16000)) // 4.48 MB
	x.wantError(t, "POST", "/v1/prompts", x.admin, ct, body, 422, "invalid_field", "file")
	body, ct = multipartWAV(t, "x", tone(1, 8000))
	x.wantError(t, "POST", "/v1/prompts", x.sup, ct, body, 403, "forbidden", "")
	x.wantError(t, "POST", "/v1/prompts", x.admin, "application/json", `{}`, 415, "malformed_request", "")
	wav := x.do(t, "GET", "/v1/prompts/"+audio.ID+"/wav", x.sup, "", nil, 200)
	if info, err := voicewait.ParseWAV(wav); err != nil || info.SampleRate != 8000 || info.Duration != 20*time.Second {
		t.Fatalf("playable audio %+v %v", info, err)
	}
	x.do(t, "GET", "/v1/prompts/"+audio.ID, x.theirAdmin, "", nil, 404)

	// A strategy: greeting and announcement from speech, the uploaded music.
	in := map[string]any{
		"name": "Main line", "maxWaitSeconds": 300, "numbers": []string{"+385 1 600 0000"},
		"greeting":       map[string]any{"enabled": true, "source": "tts", "text": "Welcome to Switchboard.", "language": "en"},
		"holdMusic":      map[string]any{"enabled": true, "source": "file", "audioId": audio.ID},
		"announcement":   map[string]any{"enabled": true, "source": "tts", "text": "You are {position:ordinal} in line.", "language": "en", "intervalSeconds": 30},
		"maxWaitMessage": map[string]any{"enabled": true, "source": "tts", "text": "Please call again later. Goodbye.", "language": "en", "voice": "f2"},
	}
	s := decodeJSON[pgstore.VoiceWaitingStrategy](t, x.do(t, "POST", "/v1/waiting-strategies", x.admin, "", in, http.StatusCreated))
	x.do(t, "GET", "/v1/waiting-strategies/"+s.ID, x.sup, "", nil, 200)
	x.wantError(t, "POST", "/v1/waiting-strategies", x.sup, "", in, 403, "forbidden", "")
	x.wantError(t, "GET", "/v1/waiting-strategies", x.agent, "", nil, 403, "forbidden", "")
	x.wantError(t, "POST", "/v1/waiting-strategies", x.admin, "", in, 409, "conflict", "")
	bad := map[string]any{"name": "Other", "maxWaitSeconds": 300,
		"announcement": map[string]any{"enabled": true, "source": "tts", "text": "{position:ordinal}", "language": "zh", "intervalSeconds": 30}}
	x.wantError(t, "POST", "/v1/waiting-strategies", x.admin, "", bad, 422, "invalid_field", "announcement.text")
	x.wantError(t, "DELETE", "/v1/prompts/"+audio.ID, x.admin, "", nil, 409, "conflict", "")

	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("SKIPPED: espeak-ng IS NOT INSTALLED — text-to-speech and the waiting plan were not tested; `make deps-test` installs it")
	}
	// Preview.
	wav = x.do(t, "POST", "/v1/tts/render", x.sup, "", map[string]any{"text": "You are {position:adaptive} in line.", "language": "en-us"}, 200)
	if info, err := voicewait.ParseWAV(wav); err != nil || info.SampleRate != 8000 || info.Duration < 500*time.Millisecond {
		t.Fatalf("preview %+v %v", info, err)
	}
	x.wantError(t, "POST", "/v1/tts/render", x.sup, "", map[string]any{"text": "hi", "language": "en", "speechRate": 5}, 422, "invalid_field", "speechRate")
	x.wantError(t, "POST", "/v1/tts/render", x.sup, "", map[string]any{"text": "", "language": "en"}, 422, "invalid_field", "text")

	// A call queued 40 s ago behind one other caller on the strategy's number.
	ctx := context.Background()
	tid := pgTenantOf(t, x)
	q, err := x.store.DefaultQueueID(ctx, tid)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ids := make([]string, 2)
	for i, age := range []time.Duration{90 * time.Second, 40 * time.Second} {
		ids[i] = insertCall(t, x, tid, q, now.Add(-age))
	}
	plan := decodeJSON[struct {
		Waiting  bool
		Position int
		Current  struct {
			Kind         string
			StartSeconds float64
			AudioID      string
		}
		Upcoming []struct {
			Kind         string
			Text         string
			Position     int
			StartSeconds float64
			EndSeconds   float64
		}
		DropAt time.Time
	}](t, x.do(t, "GET", "/v1/interactions/"+ids[1]+"/waiting", x.sup, "", nil, 200))
	if !plan.Waiting || plan.Position != 2 || plan.Current.Kind != "holdMusic" || plan.Current.AudioID != audio.ID {
		t.Fatalf("plan %+v", plan)
	}
	next := plan.Upcoming[0]
	if next.Kind != "announcement" || next.Text != "You are 2nd in line." || next.Position != 2 {
		t.Fatalf("next step %+v", next)
	}
	if d := plan.DropAt.Sub(now.Add(-40 * time.Second)); d < 299*time.Second || d > 301*time.Second {
		t.Fatalf("drop %v after queueing", d)
	}
	x.do(t, "GET", "/v1/interactions/"+ids[1]+"/waiting", x.theirAdmin, "", nil, 404)
	x.do(t, "GET", fmt.Sprintf("/v1/interactions/%s/waiting", ids[0]), x.agent, "", nil, 403)
}

// pgTenantOf is the tenant of the harness's admin.
func pgTenantOf(t *testing.T, x *dncAPI) string {
	t.Helper()
	me := decodeJSON[struct {
		Tenant struct{ ID string }
	}](t, x.do(t, "GET", "/v1/me", x.admin, "", nil, 200))
	if me.Tenant.ID == "" {
		t.Fatal("GET /v1/me names no tenant")
	}
	return me.Tenant.ID
}

// insertCall queues an inbound call to the strategy's number.
func insertCall(t *testing.T, x *dncAPI, tenantID, queueID string, queued time.Time) string {
	t.Helper()
	id := uuid.NewString()
	in := pgstore.Interaction{ID: id, TenantID: tenantID, WorkflowID: "interaction/" + id, Channel: routing.Voice,
		Direction: pgstore.Inbound, From: "+1 555 0100", To: "+385 1 600 0000", QueueID: queueID, Priority: routing.PriorityNormal,
		InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, QueuedAt: queued}, CreatedAt: queued}
	if _, err := x.store.EnqueueInteraction(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	return id
}
