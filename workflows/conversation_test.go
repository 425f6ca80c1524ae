package workflows_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"switchboard/activities"
	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/workflows"
)

// Form IDs of the conversation tests; unknownForm is refused by the mocked store.
const (
	formA       = "6f1c2c3e-0000-4000-8000-0000000000a1"
	formB       = "6f1c2c3e-0000-4000-8000-0000000000a2"
	unknownForm = "6f1c2c3e-0000-4000-8000-0000000000af"
)

// conversationLog records the RecordConversationChange requests of a desk.
type conversationLog struct {
	mu      sync.Mutex
	changes []activities.ConversationRequest
}

func (l *conversationLog) all() []activities.ConversationRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.changes)
}

// mockConversation makes RecordConversationChange keep its requests (in the desk's
// changes too, for the version check), refusing unknownForm as the store does.
func (d *desk) mockConversation() *conversationLog {
	l := &conversationLog{}
	var a *activities.Activities
	d.env.OnActivity(a.RecordConversationChange, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ConversationRequest) (activities.ConversationResult, error) {
		if c := in.Update.Conversation; c != nil && c.FormID != nil && *c.FormID == unknownForm {
			return activities.ConversationResult{}, temporal.NewNonRetryableApplicationError("no such form in this tenant", activities.ErrTypeInvalidAction, nil, "formId")
		}
		l.mu.Lock()
		l.changes = append(l.changes, in)
		l.mu.Unlock()
		d.mu.Lock()
		defer d.mu.Unlock()
		d.changes = append(d.changes, activities.ChangeRequest{Update: in.Update, Publish: in.Publish})
		d.log = append(d.log, "change "+in.Update.Events[0].Type+" "+string(in.Update.State.Status))
		return activities.ConversationResult{}, nil
	})
	return l
}

// Tags are added and removed while the interaction is queued, connected and in its
// wrap-up, each change written once with its timeline entry and event; a change that
// changes nothing writes nothing; refusals name the field.
func TestConversationTags(t *testing.T) {
	d := newDesk(t, ana)
	d.input.Tags = []string{"From-Bot"}
	log := d.mockConversation()
	queued := d.update(100*time.Millisecond, workflows.TagsUpdate, workflows.TagsInput{Actor: sup(), Add: []string{"VIP"}})
	d.accept(time.Second, ana)
	both := d.update(2*time.Second, workflows.TagsUpdate, workflows.TagsInput{Actor: as(ana), Add: []string{"billing", "vip"}, Remove: []string{"from-bot"}})
	same := d.update(3*time.Second, workflows.TagsUpdate, workflows.TagsInput{Actor: as(ana), Add: []string{"Billing"}})
	empty := d.update(3*time.Second, workflows.TagsUpdate, workflows.TagsInput{Actor: as(ana)})
	clash := d.update(3*time.Second, workflows.TagsUpdate, workflows.TagsInput{Actor: as(ana), Add: []string{"x"}, Remove: []string{"X"}})
	blank := d.update(3*time.Second, workflows.TagsUpdate, workflows.TagsInput{Actor: as(ana), Remove: []string{" "}})
	many := make([]string, pgstore.MaxInteractionTags)
	for i := range many {
		many[i] = "t" + strings.Repeat("x", i+1)
	}
	tooMany := d.update(3*time.Second, workflows.TagsUpdate, workflows.TagsInput{Actor: as(ana), Add: many})
	byBo := d.update(3*time.Second, workflows.TagsUpdate, workflows.TagsInput{Actor: as(bo), Add: []string{"x"}})
	byStranger := d.update(3*time.Second, workflows.TagsUpdate, workflows.TagsInput{Actor: stranger(), Add: []string{"x"}})
	d.endBy(5*time.Second, ana)
	wrapUp := d.update(6*time.Second, workflows.TagsUpdate, workflows.TagsInput{Actor: as(ana), Remove: []string{"VIP"}})
	d.dispose(8*time.Second, as(ana), "Closed", "Resolved")
	st := d.run()

	wantOK(t, "tag while queued", queued)
	wantOK(t, "add and remove", both)
	wantOK(t, "add a tag already there", same)
	wantField(t, "nothing to change", empty, workflows.ErrTypeInvalidAction, "add")
	wantField(t, "added and removed", clash, workflows.ErrTypeInvalidAction, "remove")
	wantField(t, "blank name", blank, workflows.ErrTypeInvalidAction, "remove")
	wantField(t, "too many", tooMany, workflows.ErrTypeInvalidAction, "add")
	wantRefused(t, "another agent", byBo, workflows.ErrTypeNotYourInteraction)
	wantRefused(t, "another tenant", byStranger, workflows.ErrTypeInteractionNotFound)
	wantOK(t, "tag in the wrap-up", wrapUp)
	if both.state == nil || !slices.Equal(both.state.Tags, []string{"VIP", "billing"}) {
		t.Errorf("answered tags %v", both.state)
	}

	var got []string
	for _, c := range log.all() {
		e := c.Update.Events[0]
		if e.Type != events.ConversationTagsChanged || c.Publish[0].Type != events.ConversationTagsChanged {
			t.Errorf("change %+v", c)
		}
		got = append(got, strings.Join(*c.Update.Conversation.Tags, ",")+" +"+strings.Join(e.Data["added"].([]string), ",")+
			" -"+strings.Join(e.Data["removed"].([]string), ",")+" by "+e.ActorID)
	}
	want := []string{
		"From-Bot,VIP +VIP - by " + supID,
		"VIP,billing +billing -From-Bot by " + ana,
		"billing + -VIP by " + ana,
	}
	if !slices.Equal(got, want) {
		t.Errorf("tag changes\n%v\nwant\n%v", got, want)
	}
	if !slices.Equal(st.Tags, []string{"billing"}) {
		t.Errorf("final tags %v", st.Tags)
	}
	d.checkVersions(t)
}

// Priority, subject and form change once each; a repeat of the same value writes
// nothing; an unknown form is refused naming formId; a call takes them too.
func TestConversationPrioritySubjectForm(t *testing.T) {
	d := newDesk(t, ana)
	d.input.Channel = routing.Voice
	log := d.mockConversation()
	d.accept(time.Second, ana)
	urgent := d.update(2*time.Second, workflows.PriorityUpdate, workflows.PriorityInput{Actor: as(ana), Priority: routing.PriorityUrgent})
	again := d.update(3*time.Second, workflows.PriorityUpdate, workflows.PriorityInput{Actor: as(ana), Priority: routing.PriorityUrgent})
	subject := d.update(3*time.Second, workflows.SubjectUpdate, workflows.SubjectInput{Actor: as(ana), Subject: "Refund for order 42"})
	longSubject := d.update(3*time.Second, workflows.SubjectUpdate, workflows.SubjectInput{Actor: as(ana), Subject: strings.Repeat("s", 501)})
	form := d.update(4*time.Second, workflows.FormUpdate, workflows.FormInput{Actor: as(ana), FormID: formA})
	unknown := d.update(5*time.Second, workflows.FormUpdate, workflows.FormInput{Actor: as(ana), FormID: unknownForm})
	notID := d.update(5*time.Second, workflows.FormUpdate, workflows.FormInput{Actor: as(ana), FormID: "returns"})
	other := d.update(6*time.Second, workflows.FormUpdate, workflows.FormInput{Actor: sup(), FormID: formB})
	d.endBy(8*time.Second, ana)
	d.dispose(9*time.Second, as(ana), "Closed", "Resolved")
	st := d.run()

	wantOK(t, "priority", urgent)
	wantOK(t, "same priority", again)
	wantOK(t, "subject", subject)
	wantField(t, "long subject", longSubject, workflows.ErrTypeInvalidAction, "subject")
	wantOK(t, "form", form)
	wantField(t, "unknown form", unknown, workflows.ErrTypeInvalidAction, "formId")
	wantField(t, "form not an ID", notID, workflows.ErrTypeInvalidAction, "formId")
	wantOK(t, "another form", other)
	if st.Priority != routing.PriorityUrgent || st.Subject != "Refund for order 42" || st.FormID != formB {
		t.Errorf("final priority %v subject %q form %s", st.Priority, st.Subject, st.FormID)
	}
	var types []string
	for _, c := range log.all() {
		types = append(types, c.Update.Events[0].Type)
	}
	want := []string{events.InteractionPriorityChanged, events.ConversationSubjectChanged, events.ConversationFormChanged, events.ConversationFormChanged}
	if !slices.Equal(types, want) {
		t.Errorf("changes %v, want %v", types, want)
	}
	d.checkVersions(t)
}
