package automation

import (
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Placeholders are written {{name}} in messages, e-mail subjects and contents, form
// values and every part of a Call API request. They resolve to the conversation's and
// customer's attributes when the action runs; one without a value resolves to "".
const (
	PlaceholderConversationID        = "conversation.id"
	PlaceholderShortID               = "conversation.shortId"
	PlaceholderConversationStatus    = "conversation.status"
	PlaceholderConversationChannel   = "conversation.channel"
	PlaceholderConversationDirection = "conversation.direction"
	PlaceholderConversationPriority  = "conversation.priority"
	PlaceholderConversationQueueID   = "conversation.queueId"
	PlaceholderConversationTags      = "conversation.tags"
	PlaceholderConversationSubject   = "conversation.subject"
	PlaceholderConversationCreatedAt = "conversation.createdAt"
	PlaceholderCustomerID            = "customer.id"
	PlaceholderCustomerName          = "customer.name"
	PlaceholderCustomerPhone         = "customer.phone"
	PlaceholderCustomerEmail         = "customer.email"
	PlaceholderCustomerExternalID    = "customer.externalId"
	PlaceholderCustomerContact       = "customer.contact"
	PlaceholderCustomerCountry       = "customer.country"
	PlaceholderAgentID               = "agent.id"
	PlaceholderAgentName             = "agent.name"
	PlaceholderAgentEmail            = "agent.email"
	PlaceholderMessageContent        = "message.content"
	PlaceholderMessageFrom           = "message.from"
	PlaceholderSurveyScore           = "survey.score"
	PlaceholderSurveyComment         = "survey.comment"
	// PlaceholderCustomerAttribute prefixes a customer's custom attribute:
	// {{customer.attributes.plan}}.
	PlaceholderCustomerAttribute = "customer.attributes."
	// PlaceholderFormField prefixes a form field's value by its ID:
	// {{form.<field ID>}}.
	PlaceholderFormField = "form."
)

// Placeholders lists the fixed placeholder names.
var Placeholders = []string{PlaceholderConversationID, PlaceholderShortID, PlaceholderConversationStatus, PlaceholderConversationChannel,
	PlaceholderConversationDirection, PlaceholderConversationPriority, PlaceholderConversationQueueID, PlaceholderConversationTags,
	PlaceholderConversationSubject, PlaceholderConversationCreatedAt, PlaceholderCustomerID, PlaceholderCustomerName,
	PlaceholderCustomerPhone, PlaceholderCustomerEmail, PlaceholderCustomerExternalID, PlaceholderCustomerContact,
	PlaceholderCustomerCountry, PlaceholderAgentID, PlaceholderAgentName, PlaceholderAgentEmail, PlaceholderMessageContent,
	PlaceholderMessageFrom, PlaceholderSurveyScore, PlaceholderSurveyComment}

var placeholderPattern = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

var attributeName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)

// CheckPlaceholders refuses a text whose placeholders are unknown, unclosed, or
// not available with the rule's triggers: the message's content and sender only with
// the message triggers, the survey's score and comment only with survey feedback.
func CheckPlaceholders(field, text string, triggers []Trigger) error {
	rest := placeholderPattern.ReplaceAllString(text, "")
	if strings.Contains(rest, "{{") || strings.Contains(rest, "}}") {
		return invalid(field, "a placeholder is written {{name}}; this text has an unmatched {{ or }}")
	}
	for _, m := range placeholderPattern.FindAllStringSubmatch(text, -1) {
		name := m[1]
		switch {
		case strings.HasPrefix(name, PlaceholderCustomerAttribute):
			if !attributeName.MatchString(strings.TrimPrefix(name, PlaceholderCustomerAttribute)) {
				return invalid(field, "{{%s}}: not a customer attribute name", name)
			}
		case strings.HasPrefix(name, PlaceholderFormField):
			if !isUUID(strings.TrimPrefix(name, PlaceholderFormField)) {
				return invalid(field, "{{%s}}: a form placeholder names the field by its ID", name)
			}
		case !slices.Contains(Placeholders, name):
			return invalid(field, "unknown placeholder {{%s}} (want one of %s, customer.attributes.<name> or form.<field ID>)", name, strings.Join(Placeholders, ", "))
		case strings.HasPrefix(name, "message.") && !onlyTriggers(triggers, messageTriggers):
			return invalid(field, "{{%s}} is available only with the agentMessageSent and messageReceived triggers", name)
		case strings.HasPrefix(name, "survey.") && !onlyTriggers(triggers, []string{TriggerSurveyFeedback}):
			return invalid(field, "{{%s}} is available only with the surveyFeedbackReceived trigger", name)
		}
	}
	return nil
}

// Blank is text with every placeholder removed.
func Blank(text string) string { return placeholderPattern.ReplaceAllString(text, "") }

// Escaper makes a placeholder's value safe where it goes.
type Escaper func(string) string

// Escapers for the places placeholders go.
var (
	// Plain leaves the value as it is (messages, e-mails, raw and text bodies).
	Plain Escaper = func(s string) string { return s }
	// JSONString escapes the value for the inside of a JSON string.
	JSONString Escaper = func(s string) string {
		b, _ := json.Marshal(s)
		return string(b[1 : len(b)-1])
	}
	// XMLText escapes the value for XML text or an attribute.
	XMLText Escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace
	// URLPart escapes the value for a URL's path segment or query value.
	URLPart Escaper = url.QueryEscape
)

// Values are the placeholders' values of one conversation at one moment.
type Values map[string]string

// Resolve fills text's placeholders from v, each escaped by esc.
func Resolve(text string, v Values, esc Escaper) string {
	if esc == nil {
		esc = Plain
	}
	return placeholderPattern.ReplaceAllStringFunc(text, func(m string) string {
		name := placeholderPattern.FindStringSubmatch(m)[1]
		return esc(v[name])
	})
}

// ResolveRequest fills the placeholders of a Call API request, each escaped for
// where it goes: URL-escaped in the URL, JSON-escaped in a JSON body, XML-escaped in
// an XML body, as it is in headers, fields (which the body's encoding escapes) and
// raw or text bodies.
func ResolveRequest(r Request, v Values) Request {
	out := r
	out.URL = Resolve(r.URL, v, URLPart)
	out.Headers = make([]Header, len(r.Headers))
	for i, h := range r.Headers {
		out.Headers[i] = Header{Name: h.Name, Value: strings.NewReplacer("\r", " ", "\n", " ").Replace(Resolve(h.Value, v, Plain))}
	}
	out.Fields = make([]Header, len(r.Fields))
	for i, f := range r.Fields {
		out.Fields[i] = Header{Name: f.Name, Value: Resolve(f.Value, v, Plain)}
	}
	switch r.ContentType {
	case ContentJSON:
		out.Body = Resolve(r.Body, v, JSONString)
	case ContentXML:
		out.Body = Resolve(r.Body, v, XMLText)
	default:
		out.Body = Resolve(r.Body, v, Plain)
	}
	return out
}

// channelLimits are the longest message each channel takes, in characters.
var channelLimits = map[string]int{
	ChannelSMS: 1600, ChannelWhatsApp: 4096, ChannelMessenger: 2000, ChannelInstagram: 1000, ChannelTelegram: 4096,
	ChannelViber: 7000, ChannelLine: 5000, ChannelRCS: 3072, ChannelGoogle: 2000, ChannelKakaoTalk: 1000,
	ChannelChat: 10000, ChannelEmail: 10000, ChannelApple: 10000,
}

// MessageLimit is the longest message an automation sends over a channel (ChannelOf
// name): the channel's own limit, and never more than MaxMessageLength. A message
// longer once its placeholders are resolved is not sent.
func MessageLimit(channel string) int {
	if l, ok := channelLimits[channel]; ok && l < MaxMessageLength {
		return l
	}
	return MaxMessageLength
}
