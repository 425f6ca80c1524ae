package pgstore_test

import (
	"math"
	"testing"
	"time"

	"github.com/google/uuid"

	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/sentiment"
)

// customerMessage appends a customer's message and scores it.
func customerMessage(t *testing.T, in pgstore.Interaction, score float64) pgstore.MessageSentiment {
	t.Helper()
	ctx := testContext(t)
	m, err := store.AppendMessage(ctx, pgstore.NewMessage{TenantID: in.TenantID, InteractionID: in.ID, ID: uuid.NewString(),
		Direction: pgstore.Inbound, SenderKind: pgstore.SenderCustomer, Body: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := store.ScoreMessage(ctx, in.TenantID, in.ID, m.ID, score)
	if err != nil {
		t.Fatal(err)
	}
	// Scoring again keeps the first score.
	again, err := store.ScoreMessage(ctx, in.TenantID, in.ID, m.ID, -score)
	if err != nil || again.Score != res.Score {
		t.Fatalf("a second score changed the message: %+v, %v", again, err)
	}
	return res
}

// Each customer message's score is kept and the interaction's sentiment is the
// weighted mean of its messages'; when it ends it gets its tag once, from the
// messages (also those scored before its first write), and keeps it; a customer's
// trend runs over their interactions.
func TestSentimentScoresTagsAndTrend(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	q := defaultQueue(t, tid).ID
	agent := newUser(t, tid, pgstore.RoleAgent)
	cust, err := store.CreateCustomer(ctx, tid, pgstore.Actor{}, pgstore.NewCustomer{Name: "Ana"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	chat := func(offset time.Duration) pgstore.Interaction {
		in := newInteraction(tid, q, routing.LiveChat, routing.PriorityNormal, at.Add(offset))
		in.CustomerID = cust.ID
		return in
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

	// A message scored before the interaction's first write counts once it is written.
	first := chat(0)
	early, err := store.AppendMessage(ctx, pgstore.NewMessage{TenantID: tid, InteractionID: first.ID, ID: uuid.NewString(),
		Direction: pgstore.Inbound, SenderKind: pgstore.SenderCustomer, Body: "this is awful"})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := store.ScoreMessage(ctx, tid, first.ID, early.ID, -0.8); err != nil || res.Messages != 1 || res.Band != sentiment.Negative {
		t.Fatalf("early score %+v, %v", res, err)
	}
	first = enqueue(t, first)
	r := customerMessage(t, first, 0)
	if r.Messages != 2 || !near(r.Sentiment.Score, (-0.8+2*0)/3) || r.Score != 0 {
		t.Errorf("after two messages %+v", r)
	}
	r = customerMessage(t, first, 0.9)
	want := (-0.8 + 0 + 3*0.9) / 6
	if r.Messages != 3 || !near(r.Sentiment.Score, want) || r.Band != sentiment.Neutral {
		t.Errorf("after three messages %+v, want score %v", r, want)
	}
	got := getInteraction(t, tid, first.ID)
	if got.Sentiment == nil || !near(got.Sentiment.Score, want) || got.Sentiment.Messages != 3 || got.Sentiment.Tag != "" {
		t.Errorf("read model %+v", got.Sentiment)
	}
	// An agent message is not scored.
	out, err := store.AppendMessage(ctx, pgstore.NewMessage{TenantID: tid, InteractionID: first.ID, ID: uuid.NewString(),
		Direction: pgstore.Outbound, SenderKind: pgstore.SenderAgent, SenderID: agent.ID, Body: "sorry"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.ScoreMessage(ctx, tid, first.ID, out.ID, -1)
	wantErr(t, err, pgstore.ErrNotFound)

	end := func(in pgstore.Interaction, version int64) {
		t.Helper()
		now := time.Now()
		st := in.InteractionState
		st.Status, st.AgentID, st.EndedAt, st.Outcome, st.Version = pgstore.InteractionEnded, agent.ID, &now, pgstore.OutcomeCompleted, version
		record(t, pgstore.InteractionUpdate{TenantID: tid, InteractionID: in.ID, State: st})
	}
	end(first, 5)
	got = getInteraction(t, tid, first.ID)
	if got.Sentiment == nil || got.Sentiment.Tag != sentiment.TagNeutral {
		t.Fatalf("tag at the end %+v", got.Sentiment)
	}
	// A message in the wrap-up does not change what the conversation ended with.
	if r := customerMessage(t, first, -1); r.Tag != sentiment.TagNeutral || !near(r.Sentiment.Score, want) {
		t.Errorf("after the end %+v", r)
	}
	end(first, 6)
	if got := getInteraction(t, tid, first.ID); got.Sentiment.Tag != sentiment.TagNeutral || !near(got.Sentiment.Score, want) {
		t.Errorf("rewritten at the end: %+v", got.Sentiment)
	}

	// A chat without customer messages ends not applicable; angry and happy ones.
	silent := enqueue(t, chat(time.Second))
	end(silent, 1)
	if got := getInteraction(t, tid, silent.ID); got.Sentiment == nil || got.Sentiment.Tag != sentiment.TagNotApplicable {
		t.Errorf("silent chat %+v", got.Sentiment)
	}
	angry := enqueue(t, chat(2*time.Second))
	customerMessage(t, angry, -0.9)
	end(angry, 1)
	happy := enqueue(t, chat(3*time.Second))
	customerMessage(t, happy, 0.95)
	end(happy, 1)
	if a, h := getInteraction(t, tid, angry.ID), getInteraction(t, tid, happy.ID); a.Sentiment.Tag != sentiment.TagOverlyNegative || h.Sentiment.Tag != sentiment.TagOverlyPositive {
		t.Errorf("tags %s and %s", a.Sentiment.Tag, h.Sentiment.Tag)
	}
	page, err := store.SearchHistory(ctx, tid, pgstore.HistoryFilter{Sentiment: sentiment.TagOverlyNegative})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != angry.ID {
		t.Errorf("history by sentiment %+v, %v", page.Items, err)
	}

	trend, err := store.CustomerSentiment(ctx, tid, cust.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(trend.Points) != 3 || trend.Points[0].InteractionID != first.ID || trend.Points[2].InteractionID != happy.ID ||
		trend.Direction != "improving" || trend.Score == nil || trend.Tags[sentiment.TagOverlyNegative] != 1 {
		t.Errorf("trend %+v", trend)
	}
	_, err = store.CustomerSentiment(ctx, tid, uuid.NewString())
	wantErr(t, err, pgstore.ErrNotFound)
}
