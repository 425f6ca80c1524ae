package workflows

import (
	"slices"
	"strings"

	"github.com/google/uuid"
	"go.temporal.io/sdk/workflow"

	"switchboard/activities"
	"switchboard/events"
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
)

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
		next, added, removed := nextTags(w.st.Tags, in)
		if len(added) == 0 && len(removed) == 0 {
			return nil
		}
		detail := map[string]any{"added": nonNilList(added), "removed": nonNilList(removed), "tags": next}
		err := w.changeConversation(ctx, pgstore.ConversationChange{Tags: &next}, in.ActorID,
			pgstore.TimelineEvent{Type: events.ConversationTagsChanged, Data: detail},
			activities.Publication{Type: events.ConversationTagsChanged, Agents: w.concerned(), Detail: detail})
		if err != nil {
			return err
		}
		w.st.Tags = next
		return nil
	})
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
		if in.Priority == w.st.Priority {
			return nil
		}
		p := in.Priority
		detail := map[string]any{"from": w.st.Priority, "to": p}
		err := w.changeConversation(ctx, pgstore.ConversationChange{Priority: &p}, in.ActorID,
			pgstore.TimelineEvent{Type: events.InteractionPriorityChanged, Data: detail},
			activities.Publication{Type: events.InteractionPriorityChanged, Agents: w.concerned(), Detail: detail})
		if err != nil {
			return err
		}
		w.st.Priority = p
		return nil
	})
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

// changeConversation writes the next version of the state with a conversation change,
// its timeline entry and events.
func (w *interaction) changeConversation(ctx workflow.Context, c pgstore.ConversationChange, actor string, tl pgstore.TimelineEvent, pubs ...activities.Publication) error {
	next := w.st.InteractionState
	next.Version++
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
