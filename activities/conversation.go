package activities

import (
	"context"
	"encoding/json"
	"errors"

	"go.temporal.io/sdk/temporal"

	"switchboard/pgstore"
)

// ErrTypeInvalidAction refuses a conversation change for its input (an unknown form,
// a form value of the wrong type…); the field is the error's detail. It is the
// interaction workflow's error type of the same name.
const ErrTypeInvalidAction = "InvalidAction"

// ConversationRequest records a change of an interaction's conversation — its tags,
// priority, form, subject (Update.Conversation) or form values — with its timeline
// entry, then publishes its events.
type ConversationRequest struct {
	Update  pgstore.InteractionUpdate `json:"update"`
	Publish []Publication             `json:"publish,omitempty"`
	// Values are form values to set with the change, by field ID; JSON null (or "")
	// clears a value. The first timeline entry and every publication get what
	// changed as "fields".
	Values map[string]json.RawMessage `json:"values,omitempty"`
}

// ConversationResult says what a conversation change wrote.
type ConversationResult struct {
	// Fields are the form values that changed (none when they already were so).
	Fields []pgstore.FormValueChange `json:"fields,omitempty"`
}

// RecordConversationChange writes a conversation change and publishes its events.
// Like RecordChange every part is idempotent; input the store refuses (an unknown
// form or field, a value of the wrong type, too many fields) is refused for good with
// ErrTypeInvalidAction naming the field.
func (a *Activities) RecordConversationChange(ctx context.Context, in ConversationRequest) (ConversationResult, error) {
	var res ConversationResult
	u := in.Update
	var err error
	if in.Values != nil {
		res.Fields, err = a.Store.RecordFormValues(ctx, u, in.Values)
	} else {
		_, err = a.Store.RecordInteraction(ctx, u)
	}
	if err != nil {
		var invalid *pgstore.ValidationError
		if errors.As(err, &invalid) {
			return res, temporal.NewNonRetryableApplicationError(invalid.Message, ErrTypeInvalidAction, nil, invalid.Field)
		}
		return res, storeError(err)
	}
	pubs := in.Publish
	if in.Values != nil && len(res.Fields) == 0 {
		pubs = nil // no value changed
	} else if in.Values != nil {
		pubs = make([]Publication, len(in.Publish))
		for i, p := range in.Publish {
			p.Detail = map[string]any{"fields": res.Fields}
			pubs[i] = p
		}
	}
	return res, a.publishAll(ctx, u, pubs)
}

// FormCheckRequest asks what a conversation's form lacks.
type FormCheckRequest struct {
	TenantID      string `json:"tenantId"`
	InteractionID string `json:"interactionId"`
	// FormID is the form as the workflow holds it; empty means the default form.
	FormID string `json:"formId,omitempty"`
}

// FormCheck is what a conversation's form lacks.
type FormCheck struct {
	FormName string                 `json:"formName,omitempty"`
	Missing  []pgstore.MissingField `json:"missing,omitempty"`
}

// CheckForm reports the mandatory fields of the interaction's form that show and are
// empty, which keep the conversation from being solved or closed.
func (a *Activities) CheckForm(ctx context.Context, in FormCheckRequest) (FormCheck, error) {
	f, err := a.Store.InteractionForm(ctx, in.TenantID, in.InteractionID, in.FormID)
	if err != nil {
		return FormCheck{}, storeError(err)
	}
	out := FormCheck{Missing: f.Missing}
	if f.Form != nil {
		out.FormName = f.Form.Name
	}
	return out, nil
}
