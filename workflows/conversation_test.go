package workflows_test

import (
	"context"
	"encoding/json"
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
	// onValues runs when form values are written.
	onValues func()
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
		hook := l.onValues
		l.mu.Unlock()
		if in.Values != nil && hook != nil {
			hook()
		}
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

// A conversation whose form has a mandatory field that shows and is empty is not
// solved or closed: the status change is refused naming the field, nothing is
// written; once the value is set (through the form-values update) it is solved and
// closed. Form values are written with their own timeline entry.
func TestConversationMandatoryFieldsBlockSolved(t *testing.T) {
	const orderField = "6f1c2c3e-0000-4000-8000-0000000000d9"
	var (
		filledMu   sync.Mutex
		filledFlag bool
	)
	d := newDesk(t, ana)
	d.input.FormID = formA
	log := d.mockConversation()
	log.onValues = func() { filledMu.Lock(); filledFlag = true; filledMu.Unlock() }
	var (
		mu     sync.Mutex
		checks []activities.FormCheckRequest
	)
	d.formCheck = func(in activities.FormCheckRequest) activities.FormCheck {
		mu.Lock()
		defer mu.Unlock()
		checks = append(checks, in)
		filledMu.Lock()
		done := filledFlag
		filledMu.Unlock()
		if done {
			return activities.FormCheck{FormName: "Returns"}
		}
		return activities.FormCheck{FormName: "Returns", Missing: []pgstore.MissingField{{FieldID: orderField, Name: "Order number"}}}
	}
	d.accept(time.Second, ana)
	waiting := d.conversation(2*time.Second, as(ana), pgstore.ConversationWaiting)
	solved := d.conversation(3*time.Second, as(ana), pgstore.ConversationSolved)
	closed := d.conversation(4*time.Second, sup(), pgstore.ConversationClosed)
	notID := d.update(5*time.Second, workflows.FormValuesUpdate, workflows.FormValuesInput{Actor: as(ana), Values: map[string]json.RawMessage{"order": []byte(`"x"`)}})
	none := d.update(5*time.Second, workflows.FormValuesUpdate, workflows.FormValuesInput{Actor: as(ana)})
	set := d.update(6*time.Second, workflows.FormValuesUpdate, workflows.FormValuesInput{Actor: as(ana), Values: map[string]json.RawMessage{orderField: []byte(`"AB-1234"`)}})
	solvedNow := d.conversation(7*time.Second, as(ana), pgstore.ConversationSolved)
	closedNow := d.conversation(8*time.Second, as(ana), pgstore.ConversationClosed)
	d.dispose(9*time.Second, as(ana), "Closed", "Resolved")
	st := d.run()

	wantOK(t, "waiting", waiting)
	wantField(t, "solved with the order empty", solved, workflows.ErrTypeFormIncomplete, "values."+orderField)
	wantField(t, "closed with the order empty", closed, workflows.ErrTypeFormIncomplete, "values."+orderField)
	if err := solved.err; err == nil || !strings.Contains(err.Error(), `mandatory field "Order number" is empty on form "Returns"`) {
		t.Errorf("refusal %v", err)
	}
	wantField(t, "values not keyed by ID", notID, workflows.ErrTypeInvalidAction, "values.order")
	wantField(t, "no values", none, workflows.ErrTypeInvalidAction, "values")
	wantOK(t, "set the order", set)
	wantOK(t, "solved", solvedNow)
	wantOK(t, "closed", closedNow)
	if st.ConversationStatus != pgstore.ConversationClosed || st.Status != pgstore.InteractionDisposed {
		t.Errorf("final %s / %s", st.Status, st.ConversationStatus)
	}
	mu.Lock()
	if len(checks) != 4 || checks[0].FormID != formA || checks[0].InteractionID != interactionID {
		t.Errorf("checks %+v", checks)
	}
	mu.Unlock()
	// The refused changes wrote nothing: waiting, the values, solved, then the
	// close ends it and it is disposed.
	want := []string{"conversationStatusChanged connected", "formFieldUpdated connected", "conversationStatusChanged connected", "interactionDisposed disposed"}
	if got := d.timeline(); !slices.Equal(got, want) {
		t.Errorf("timeline %v", got)
	}
	if c := log.all(); len(c) != 1 || c[0].Values[orderField] == nil || c[0].Update.Events[0].Type != events.FormFieldUpdated {
		t.Errorf("form value changes %+v", c)
	}
	d.checkVersions(t)
}
