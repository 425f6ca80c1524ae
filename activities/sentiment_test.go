package activities_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/activities"
	"switchboard/events"
	"switchboard/sentiment"
)

// fixed scores every message the same, to see which scorer the activities use.
type fixed float64

func (f fixed) Score(string) float64 { return float64(f) }

// A customer's message is scored as it is recorded, once: a retried activity keeps
// the first score and the feed gets one sentimentUpdated event per message, with the
// conversation's sentiment; a message without text is not scored. The default
// scorer is the package's lexicon; another Scorer can take its place.
func TestRecordInboundMessageScoresSentiment(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newActivities(t, 0)
	feed := withEvents(t, a)
	tenant, _ := newAgent(t)
	ix := uuid.NewString()
	msg := func(body string) activities.InboundMessage {
		return activities.InboundMessage{TenantID: tenant, InteractionID: ix, MessageID: uuid.NewString(), Body: body, ReceivedAt: time.Now()}
	}
	angry := msg("This is ridiculous, my parcel never arrived!")
	for range 2 {
		if _, err := a.RecordInboundMessage(ctx, angry); err != nil {
			t.Fatal(err)
		}
	}
	a.Sentiment = fixed(0.5)
	calm := msg("ok")
	if _, err := a.RecordInboundMessage(ctx, calm); err != nil {
		t.Fatal(err)
	}
	evs, _, err := feed.After(ctx, tenant, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []activities.SentimentEvent
	for _, e := range evs {
		if e.Type != events.SentimentUpdated || e.InteractionID != ix {
			continue
		}
		var v activities.SentimentEvent
		if err := json.Unmarshal(e.Data, &v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if len(got) != 2 {
		t.Fatalf("%d sentiment events, want one per message: %+v", len(got), got)
	}
	want := sentiment.Default().Score(angry.Body)
	if got[0].Detail.MessageID != angry.MessageID || got[0].Detail.Score != float64(float32(want)) || got[0].Detail.Band != sentiment.Negative {
		t.Errorf("first event %+v, want the lexicon's %+.3f", got[0].Detail, want)
	}
	if got[1].Detail.Score != 0.5 || got[1].Detail.Messages != 1 {
		t.Errorf("second event %+v", got[1].Detail)
	}
	ms, err := store.Messages(ctx, tenant, ix, 0, 0)
	if err != nil || len(ms) != 2 {
		t.Fatalf("transcript %+v, %v", ms, err)
	}
}
