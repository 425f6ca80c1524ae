package workflows

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/events"
	"switchboard/forms"
	"switchboard/pgstore"
	"switchboard/routing"
)

// Updates of a conversation's productivity data: its tags, priority, subject, form
// and form values. Agents (on what they hold), supervisors, admins, macros and
// automations call them; each answers the interaction's state after it.
const (
	// TagsUpdate adds and removes conversation tags (TagsInput).
	TagsUpdate = "tags"
	// PriorityUpdate sets the priority (PriorityInput).
	PriorityUpdate = "priority"
	// SubjectUpdate sets the topic or e-mail subject (SubjectInput).
	SubjectUpdate = "subject"
	// FormUpdate chooses the conversation form (FormInput).
	FormUpdate = "form"
	// FormValuesUpdate sets or clears form values (FormValuesInput).
	FormValuesUpdate = "form-values"
	// MacroAppliedUpdate records that a macro ran on the conversation
	// (MacroAppliedInput); its actions made their own changes.
	MacroAppliedUpdate = "macro-applied"
)

// ErrTypeFormIncomplete refuses to solve or close a conversation whose form has a
// mandatory field that shows and is empty; the message names it, the detail is its
// path (values.<fieldId>).
const ErrTypeFormIncomplete = "FormIncomplete"

// formCheckChange marks runs that check the form's mandatory fields before a
// conversation is solved or closed; runs started before did not, and replay the
// same.
const formCheckChange = "form-mandatory-fields"

// TagsInput adds and removes tags by name. Callers resolve names against the
// tenant's catalogue first (pgstore.ResolveTags); removing compares names ignoring
// case, so a tag given at creation in another case is found too.
type TagsInput struct {
	Actor
	Add    []string `json:"add,omitempty"`
	Remove []string `json:"remove,omitempty"`
}

// PriorityInput sets the interaction's priority.
type PriorityInput struct {
	Actor
	Priority routing.Priority `json:"priority"`
}

// SubjectInput sets the topic or e-mail subject; empty clears it.
type SubjectInput struct {
	Actor
	Subject string `json:"subject"`
}

// FormInput chooses the conversation form; empty leaves the interaction without one.
// Values already entered are kept whatever the form.
type FormInput struct {
	Actor
	FormID string `json:"formId"`
}

// FormValuesInput sets form values by input field ID: any field of the tenant, on the
// form or not (a form only chooses which fields show). JSON null or "" clears one.
type FormValuesInput struct {
	Actor
	Values map[string]json.RawMessage `json:"values"`
}

// MacroAppliedInput records a macro's run: which actions were done, skipped or failed.
type MacroAppliedInput struct {
	Actor
	MacroID string `json:"macroId"`
	Name    string `json:"name"`
	// Steps are the actions' results in order ("status done", "template skipped",
	// "queue failed"); those after a failure did not run.
	Steps []string `json:"steps"`
}

// registerConversation adds the conversation's updates.
func (w *interaction) registerConversation(ctx workflow.Context) error {
	handlers := []struct {
		name      string
		handler   any
		validator any
	}{
		{TagsUpdate, w.onTags, w.validateTags},
		{PriorityUpdate, w.onPriority, w.validatePriority},
		{SubjectUpdate, w.onSubject, w.validateSubject},
		{FormUpdate, w.onForm, w.validateForm},
		{FormValuesUpdate, w.onFormValues, w.validateFormValues},
		{MacroAppliedUpdate, w.onMacroApplied, w.validateMacroApplied},
	}
	for _, h := range handlers {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, h.handler, workflow.UpdateHandlerOptions{Validator: h.validator}); err != nil {
			return err
		}
	}
	return nil
}

// checkConversation admits a change of the conversation by the actor while the
// interaction is not over (disposed or abandoned) and its read model is written.
func (w *interaction) checkConversation(a Actor, what string) error {
	if err := w.checkActor(a); err != nil {
		return err
	}
	switch {
	case !w.lifecycle:
		return notAllowed("this interaction started before %s could be changed", what)
	case w.st.Status.Final():
		return notAllowed("the interaction is already %s", w.st.Status)
	case !w.enqueued:
		return notAllowed("the interaction is being routed; try again in a moment")
	}
	return nil
}

func (w *interaction) validateTags(in TagsInput) error {
	if err := w.checkConversation(in.Actor, "tags"); err != nil {
		return err
	}
	if len(in.Add) == 0 && len(in.Remove) == 0 {
		return invalidAction("add", "name tags to add or remove")
	}
	for _, l := range []struct {
		field string
		names []string
	}{{"add", in.Add}, {"remove", in.Remove}} {
		for i, t := range l.names {
			if err := pgstore.ValidateTagName(l.field, t); err != nil {
				return invalidAction(l.field, "%s[%d] must be 1 to %d characters", l.field, i, pgstore.MaxTagName)
			}
		}
	}
	for _, t := range in.Add {
		if slices.ContainsFunc(in.Remove, func(r string) bool { return strings.EqualFold(r, t) }) {
			return invalidAction("remove", "tag %q is both added and removed", t)
		}
	}
	if next, _, _ := nextTags(w.st.Tags, in); len(next) > pgstore.MaxInteractionTags {
		return invalidAction("add", "an interaction carries at most %d tags", pgstore.MaxInteractionTags)
	}
	return nil
}

// nextTags applies in to tags: added names not there yet (ignoring case) go at the end,
// removed names go; it reports what changed.
func nextTags(tags []string, in TagsInput) (next, added, removed []string) {
	next = make([]string, 0, len(tags)+len(in.Add))
	for _, t := range tags {
		if slices.ContainsFunc(in.Remove, func(r string) bool { return strings.EqualFold(r, t) }) {
			removed = append(removed, t)
			continue
		}
		next = append(next, t)
	}
	for _, t := range in.Add {
		if !slices.ContainsFunc(next, func(n string) bool { return strings.EqualFold(n, t) }) {
			next = append(next, t)
			added = append(added, t)
		}
	}
	return next, added, removed
}

// onTags adds and removes tags; a change that changes nothing writes nothing.
func (w *interaction) onTags(ctx workflow.Context, in TagsInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validateTags(in) }, func() error {
		_, err := w.changeTags(ctx, in)
		return err
	})
}

// changeTags makes a tag change under the lock; it reports whether anything changed.
func (w *interaction) changeTags(ctx workflow.Context, in TagsInput) (bool, error) {
	next, added, removed := nextTags(w.st.Tags, in)
	if len(added) == 0 && len(removed) == 0 {
		return false, nil
	}
	detail := map[string]any{"added": nonNilList(added), "removed": nonNilList(removed), "tags": next}
	err := w.changeConversation(ctx, pgstore.ConversationChange{Tags: &next}, in.ActorID,
		pgstore.TimelineEvent{Type: events.ConversationTagsChanged, Data: detail},
		activities.Publication{Type: events.ConversationTagsChanged, Agents: w.concerned(), Detail: detail})
	if err != nil {
		return false, err
	}
	w.st.Tags = next
	return true, nil
}

func (w *interaction) validatePriority(in PriorityInput) error {
	if err := w.checkConversation(in.Actor, "the priority"); err != nil {
		return err
	}
	if !in.Priority.Valid() {
		return invalidAction("priority", "priority must be low, normal, high or urgent")
	}
	return nil
}

func (w *interaction) onPriority(ctx workflow.Context, in PriorityInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validatePriority(in) }, func() error {
		_, err := w.changePriority(ctx, in)
		return err
	})
}

// changePriority sets the priority under the lock; it reports whether it changed.
func (w *interaction) changePriority(ctx workflow.Context, in PriorityInput) (bool, error) {
	if in.Priority == w.st.Priority {
		return false, nil
	}
	p := in.Priority
	detail := map[string]any{"from": w.st.Priority, "to": p}
	err := w.changeConversation(ctx, pgstore.ConversationChange{Priority: &p}, in.ActorID,
		pgstore.TimelineEvent{Type: events.InteractionPriorityChanged, Data: detail},
		activities.Publication{Type: events.InteractionPriorityChanged, Agents: w.concerned(), Detail: detail})
	if err != nil {
		return false, err
	}
	w.st.Priority = p
	return true, nil
}

func (w *interaction) validateSubject(in SubjectInput) error {
	if err := w.checkConversation(in.Actor, "the subject"); err != nil {
		return err
	}
	if err := pgstore.ValidateSubject(in.Subject); err != nil {
		return invalidAction("subject", "subject must be at most %d characters on one line", pgstore.MaxSubject)
	}
	return nil
}

func (w *interaction) onSubject(ctx workflow.Context, in SubjectInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validateSubject(in) }, func() error {
		subject := strings.TrimSpace(in.Subject)
		if subject == w.st.Subject {
			return nil
		}
		detail := map[string]any{"from": w.st.Subject, "to": subject}
		err := w.changeConversation(ctx, pgstore.ConversationChange{Subject: &subject}, in.ActorID,
			pgstore.TimelineEvent{Type: events.ConversationSubjectChanged, Data: detail},
			activities.Publication{Type: events.ConversationSubjectChanged, Agents: w.concerned(), Detail: detail})
		if err != nil {
			return err
		}
		w.st.Subject = subject
		return nil
	})
}

func (w *interaction) validateForm(in FormInput) error {
	if err := w.checkConversation(in.Actor, "the form"); err != nil {
		return err
	}
	if in.FormID != "" && uuid.Validate(in.FormID) != nil {
		return invalidAction("formId", "must be a form ID")
	}
	return nil
}

// onForm chooses the conversation's form; the store refuses a form the tenant does
// not have.
func (w *interaction) onForm(ctx workflow.Context, in FormInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validateForm(in) }, func() error {
		id := strings.ToLower(in.FormID)
		if id == w.st.FormID {
			return nil
		}
		detail := map[string]any{"from": w.st.FormID, "to": id}
		err := w.changeConversation(ctx, pgstore.ConversationChange{FormID: &id}, in.ActorID,
			pgstore.TimelineEvent{Type: events.ConversationFormChanged, Data: detail},
			activities.Publication{Type: events.ConversationFormChanged, Agents: w.concerned(), Detail: detail})
		if err != nil {
			return err
		}
		w.st.FormID = id
		return nil
	})
}

func (w *interaction) validateFormValues(in FormValuesInput) error {
	if err := w.checkConversation(in.Actor, "form values"); err != nil {
		return err
	}
	switch {
	case len(in.Values) == 0:
		return invalidAction("values", "set or clear at least one value, keyed by input field ID")
	case len(in.Values) > forms.MaxFieldsPerConversation:
		return invalidAction("values", "at most %d values at once", forms.MaxFieldsPerConversation)
	}
	for _, id := range workflow.DeterministicKeys(in.Values) {
		if uuid.Validate(id) != nil {
			return invalidAction("values."+id, "values are keyed by input field ID")
		}
	}
	return nil
}

// onFormValues sets form values; the store checks each against its field's type and
// writes only what changes (a write that changes nothing still takes a version).
func (w *interaction) onFormValues(ctx workflow.Context, in FormValuesInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validateFormValues(in) }, func() error {
		return w.setFormValues(ctx, in)
	})
}

func (w *interaction) validateMacroApplied(in MacroAppliedInput) error {
	// The macro's actions were each checked; an agent who just handed the
	// interaction over (a macro's assign or queue action) may still record it.
	a := in.Actor
	a.AgentID = ""
	if err := w.checkConversation(a, "macros"); err != nil {
		return err
	}
	switch {
	case uuid.Validate(in.MacroID) != nil:
		return invalidAction("macroId", "must be a macro ID")
	case len(in.Steps) == 0 || len(in.Steps) > pgstore.MaxMacroActions:
		return invalidAction("steps", "1 to %d steps", pgstore.MaxMacroActions)
	}
	return nil
}

// onMacroApplied records a macro's run in the timeline and publishes macroApplied.
func (w *interaction) onMacroApplied(ctx workflow.Context, in MacroAppliedInput) (*InteractionState, error) {
	return w.act(ctx, func() error { return w.validateMacroApplied(in) }, func() error {
		detail := map[string]any{"macroId": in.MacroID, "name": in.Name, "steps": in.Steps}
		return w.changeConversation(ctx, pgstore.ConversationChange{}, in.ActorID,
			pgstore.TimelineEvent{Type: events.MacroApplied, Data: detail},
			activities.Publication{Type: events.MacroApplied, Agents: w.concerned(), Detail: detail})
	})
}

// setFormValues writes form values under the lock.
func (w *interaction) setFormValues(ctx workflow.Context, in FormValuesInput) error {
	next := w.st.InteractionState
	next.Version++
	err := w.call(ctx, "RecordConversationChange", activities.ConversationRequest{
		Update: pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: next,
			Events: []pgstore.TimelineEvent{{Type: events.FormFieldUpdated, At: workflow.Now(ctx), ActorID: in.ActorID}}},
		Publish: []activities.Publication{{Type: events.FormFieldUpdated, Agents: w.concerned(), Automation: w.cause}},
		Values:  in.Values,
	}).Get(ctx, nil)
	if err != nil {
		return err
	}
	w.st.InteractionState = next
	return nil
}

// checkForm refuses to solve or close a conversation whose form has a mandatory field
// that shows and is empty (runs that keep the rule only).
func (w *interaction) checkForm(ctx workflow.Context, status pgstore.ConversationStatus) error {
	if workflow.GetVersion(ctx, formCheckChange, workflow.DefaultVersion, 1) < 1 {
		return nil
	}
	var res activities.FormCheck
	err := w.call(ctx, "CheckForm", activities.FormCheckRequest{TenantID: w.st.TenantID, InteractionID: w.st.ID, FormID: w.st.FormID}).Get(ctx, &res)
	if err != nil {
		return err
	}
	if len(res.Missing) == 0 {
		return nil
	}
	names := make([]string, len(res.Missing))
	for i, m := range res.Missing {
		names[i] = fmt.Sprintf("%q", m.Name)
	}
	what := "mandatory field " + names[0] + " is"
	if len(names) > 1 {
		what = "mandatory fields " + strings.Join(names, ", ") + " are"
	}
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("the conversation cannot be %s: %s empty on form %q", status, what, res.FormName),
		ErrTypeFormIncomplete, nil, "values."+res.Missing[0].FieldID)
}

// changeConversation writes the next version of the state with a conversation change,
// its timeline entry and events.
func (w *interaction) changeConversation(ctx workflow.Context, c pgstore.ConversationChange, actor string, tl pgstore.TimelineEvent, pubs ...activities.Publication) error {
	next := w.st.InteractionState
	next.Version++
	for i := range pubs {
		pubs[i].Automation = w.cause
	}
	tl.ActorID = actor
	if tl.At.IsZero() {
		tl.At = workflow.Now(ctx)
	}
	err := w.call(ctx, "RecordConversationChange", activities.ConversationRequest{
		Update: pgstore.InteractionUpdate{TenantID: w.st.TenantID, InteractionID: w.st.ID, State: next,
			Events: []pgstore.TimelineEvent{tl}, Conversation: &c},
		Publish: pubs,
	}).Get(ctx, nil)
	if err != nil {
		return err
	}
	w.st.InteractionState = next
	return nil
}

// concerned are the agents a conversation change concerns: the one who holds the
// interaction, or the one it rings on.
func (w *interaction) concerned() []string {
	var out []string
	for _, a := range []string{w.st.AgentID, w.st.OfferedAgentID} {
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}

func nonNilList(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
