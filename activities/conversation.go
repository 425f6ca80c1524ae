package activities

import (
	"context"
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
}

// ConversationResult says what a conversation change wrote.
type ConversationResult struct{}

// RecordConversationChange writes a conversation change and publishes its events.
// Like RecordChange every part is idempotent; input the store refuses (an unknown
// form or field, a value of the wrong type, too many fields) is refused for good with
// ErrTypeInvalidAction naming the field.
func (a *Activities) RecordConversationChange(ctx context.Context, in ConversationRequest) (ConversationResult, error) {
	var res ConversationResult
	u := in.Update
	_, err := a.Store.RecordInteraction(ctx, u)
	if err != nil {
		var invalid *pgstore.ValidationError
		if errors.As(err, &invalid) {
			return res, temporal.NewNonRetryableApplicationError(invalid.Message, ErrTypeInvalidAction, nil, invalid.Field)
		}
		return res, storeError(err)
	}
	return res, a.publishAll(ctx, u, in.Publish)
}
