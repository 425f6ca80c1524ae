package events

// Event types of a conversation's productivity data: its tags, form, form values,
// priority, subject, the macros applied to it and the customer's sentiment.
const (
	// ConversationTagsChanged: tags were added to or removed from an interaction
	// (data.detail.added, .removed, .tags).
	ConversationTagsChanged = "conversationTagsChanged"
	// ConversationFormChanged: another conversation form was chosen (data.detail.from,
	// .to), by an agent, a macro or an automation.
	ConversationFormChanged = "conversationFormChanged"
	// FormFieldUpdated: form values of an interaction were set or cleared
	// (data.detail.fields).
	FormFieldUpdated = "formFieldUpdated"
	// InteractionPriorityChanged: the interaction's priority changed.
	InteractionPriorityChanged = "interactionPriorityChanged"
	// ConversationSubjectChanged: the topic or e-mail subject changed.
	ConversationSubjectChanged = "conversationSubjectChanged"
	// MacroApplied: a macro ran on an interaction (data.detail.macroId, .actions).
	MacroApplied = "macroApplied"
	// SentimentUpdated: a customer's message was scored (data.detail.messageScore,
	// .score, .band, .messages), or the conversation ended with its sentiment tag
	// (data.detail.tag).
	SentimentUpdated = "sentimentUpdated"
)
