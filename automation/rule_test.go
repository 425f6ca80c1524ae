package automation_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"switchboard/automation"
)

const (
	queueA = "0f9d8f5e-1111-4a4a-8b8b-000000000001"
	fieldA = "0f9d8f5e-2222-4a4a-8b8b-000000000002"
)

// rule parses a rule from JSON, as the API receives it.
func rule(t *testing.T, doc string) automation.Rule {
	t.Helper()
	var r automation.Rule
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("rule %s: %v", doc, err)
	}
	return r
}

func TestValidateAcceptsTheReferenceRules(t *testing.T) {
	cases := map[string]string{
		"survey then call API": `{"triggers":[{"type":"solvedFor","after":{"seconds":10}}],"actions":[{"type":"sendSurvey"}]}`,
		"not happy": `{"triggers":[{"type":"surveyFeedbackReceived","scores":["notHappy"]}],
			"actions":[{"type":"callApi","request":{"method":"post","url":"https://crm.example/hooks/{{conversation.id}}","contentType":"json",
			"headers":[{"name":"Authorization","value":"Bearer x"}],"body":"{\"score\":\"{{survey.score}}\",\"short\":\"{{conversation.shortId}}\"}"}},
			{"type":"applyTags","tags":["unhappy"]}]}`,
		"90 days exactly": `{"triggers":[{"type":"waitingFor","after":{"days":90}}],"actions":[{"type":"closeConversation"}]}`,
		"mixed triggers and groups": `{"triggers":[{"type":"messageReceived"},{"type":"agentMessageSent"}],
			"conditions":[{"anyOf":[{"attribute":"tag","operator":"isInList","values":["vip"]},{"attribute":"queue","operator":"isInList","values":["` + queueA + `"]}]},
			{"anyOf":[{"attribute":"message","operator":"is","values":["first"]}]},
			{"anyOf":[{"attribute":"channel","operator":"is","values":["multichannel"]}]},
			{"anyOf":[{"attribute":"companyAttribute","field":"seats","valueType":"wholeNumber","operator":"is","values":["12"]}]},
			{"anyOf":[{"attribute":"formField","field":"` + fieldA + `","operator":"isNot","values":[""]}]}],
			"actions":[{"type":"sendMessage","message":"Hi {{customer.name}}, we got: {{message.content}}"},{"type":"setPriority","priority":"high"},
			{"type":"notifyByEmail","to":["team@acme.test"],"subject":"New from {{customer.contact}}"},{"type":"setStatus","status":"solved"},{"type":"closeConversation"}]}`,
		"status and channel change": `{"triggers":[{"type":"statusChanged","to":"waiting"},{"type":"channelChanged","from":"chat","to":"email"},{"type":"channelChanged"}],
			"actions":[{"type":"populateFormFields","fields":[{"fieldId":"` + fieldA + `","value":"{{customer.attributes.plan}}"}]},{"type":"unassignAgent"}]}`,
		"form url-encoded": `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"callApi","request":{"method":"PUT","url":"http://10.0.0.1:8080/x?id={{conversation.id}}",
			"contentType":"urlencoded","fields":[{"name":"who","value":"{{agent.name}}"}]}}]}`,
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			r := rule(t, doc)
			if err := r.Validate(); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

func TestValidateRefusesBadRulesNamingTheField(t *testing.T) {
	const act = `"actions":[{"type":"applyTags","tags":["x"]}]`
	cases := []struct {
		name, doc, field, message string
	}{
		{"no trigger", `{"triggers":[],` + act + `}`, "triggers", "at least one trigger"},
		{"unknown trigger", `{"triggers":[{"type":"moonRises"}],` + act + `}`, "triggers[0].type", "unknown trigger"},
		{"5 second timer", `{"triggers":[{"type":"solvedFor","after":{"seconds":5}}],` + act + `}`, "triggers[0].after", "10 seconds to 90 days"},
		{"91 day timer", `{"triggers":[{"type":"solvedFor","after":{"days":91}}],` + act + `}`, "triggers[0].after", "at most 90 days"},
		{"90 days and a minute", `{"triggers":[{"type":"solvedFor","after":{"days":90,"minutes":1}}],` + act + `}`, "triggers[0].after", "10 seconds to 90 days"},
		{"negative", `{"triggers":[{"type":"waitingFor","after":{"hours":-1,"days":1}}],` + act + `}`, "triggers[0].after", "negative"},
		{"timer without period", `{"triggers":[{"type":"agentNotReplied"}],` + act + `}`, "triggers[0].after", "period"},
		{"event with period", `{"triggers":[{"type":"noteCreated","after":{"minutes":1}}],` + act + `}`, "triggers[0].after", "only time-based"},
		{"status to closed", `{"triggers":[{"type":"statusChanged","to":"closed"}],` + act + `}`, "triggers[0].to", "open, waiting or solved"},
		{"unknown channel", `{"triggers":[{"type":"channelChanged","to":"pigeon"}],` + act + `}`, "triggers[0].to", "unknown channel"},
		{"survey without score", `{"triggers":[{"type":"surveyFeedbackReceived"}],` + act + `}`, "triggers[0].scores", "happy"},
		{"survey bad score", `{"triggers":[{"type":"surveyFeedbackReceived","scores":["meh"]}],` + act + `}`, "triggers[0].scores[0]", "happy or notHappy"},
		{"same trigger twice", `{"triggers":[{"type":"noteCreated"},{"type":"noteCreated"}],` + act + `}`, "triggers[1]", "same trigger"},
		{"unknown attribute", `{"triggers":[{"type":"noteCreated"}],"conditions":[{"anyOf":[{"attribute":"mood","operator":"is","values":["x"]}]}],` + act + `}`,
			"conditions[0].anyOf[0].attribute", "unknown attribute"},
		{"unknown operator", `{"triggers":[{"type":"noteCreated"}],"conditions":[{"anyOf":[{"attribute":"tag","operator":"startsWith","values":["x"]}]}],` + act + `}`,
			"conditions[0].anyOf[0].operator", "isInList, isNotInList"},
		{"unknown value", `{"triggers":[{"type":"noteCreated"}],"conditions":[{"anyOf":[{"attribute":"status","operator":"isInList","values":["closed"]}]}],` + act + `}`,
			"conditions[0].anyOf[0].values[0]", "unknown value"},
		{"queue not an ID", `{"triggers":[{"type":"noteCreated"}],"conditions":[{"anyOf":[{"attribute":"queue","operator":"isInList","values":["Sales"]}]}],` + act + `}`,
			"conditions[0].anyOf[0].values[0]", "ID of a queue"},
		{"attribute twice", `{"triggers":[{"type":"noteCreated"}],"conditions":[{"anyOf":[{"attribute":"tag","operator":"isInList","values":["a"]}]},
			{"anyOf":[{"attribute":"tag","operator":"isNotInList","values":["b"]}]}],` + act + `}`, "conditions[1].anyOf[0].attribute", "once per rule"},
		{"empty group", `{"triggers":[{"type":"noteCreated"}],"conditions":[{"anyOf":[]}],` + act + `}`, "conditions[0].anyOf", "at least one condition"},
		{"first message with another trigger", `{"triggers":[{"type":"noteCreated"}],"conditions":[{"anyOf":[{"attribute":"message","operator":"is","values":["first"]}]}],` + act + `}`,
			"conditions[0].anyOf[0].attribute", "only with the agentMessageSent"},
		{"direction two values", `{"triggers":[{"type":"noteCreated"}],"conditions":[{"anyOf":[{"attribute":"direction","operator":"is","values":["inbound","outbound"]}]}],` + act + `}`,
			"conditions[0].anyOf[0].values", "exactly one value"},
		{"hours not 6 or 12", `{"triggers":[{"type":"noteCreated"}],"conditions":[{"anyOf":[{"attribute":"hoursSinceAssigneeUpdated","operator":"greaterThan","values":["7"]}]}],` + act + `}`,
			"conditions[0].anyOf[0].values[0]", "6, 12"},
		{"company attribute bad number", `{"triggers":[{"type":"noteCreated"}],"conditions":[{"anyOf":[{"attribute":"companyAttribute","field":"seats","valueType":"wholeNumber","operator":"is","values":["many"]}]}],` + act + `}`,
			"conditions[0].anyOf[0].values[0]", "not a wholeNumber"},
		{"company attribute contains on a number", `{"triggers":[{"type":"noteCreated"}],"conditions":[{"anyOf":[{"attribute":"companyAttribute","field":"seats","valueType":"decimal","operator":"containsAny","values":["1"]}]}],` + act + `}`,
			"conditions[0].anyOf[0].operator", "is, isNot"},
		{"form field without field", `{"triggers":[{"type":"noteCreated"}],"conditions":[{"anyOf":[{"attribute":"formField","operator":"is","values":["x"]}]}],` + act + `}`,
			"conditions[0].anyOf[0].field", "needs the field"},
		{"no action", `{"triggers":[{"type":"noteCreated"}],"actions":[]}`, "actions", "at least one action"},
		{"unknown action", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"launchRocket"}]}`, "actions[0].type", "unknown action"},
		{"close not last", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"closeConversation"},{"type":"applyTags","tags":["x"]}]}`, "actions[0].type", "must be the last action"},
		{"field of another action", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"sendMessage","message":"hi","tags":["x"]}]}`, "actions[0].tags", "takes no tags"},
		{"message too long", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"sendMessage","message":"` + strings.Repeat("a", 1001) + `"}]}`, "actions[0].message", "at most 1000"},
		{"unknown placeholder", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"sendMessage","message":"hi {{customer.shoeSize}}"}]}`, "actions[0].message", "unknown placeholder"},
		{"unclosed placeholder", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"sendMessage","message":"hi {{customer.name"}]}`, "actions[0].message", "unmatched"},
		{"message content without message trigger", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"sendMessage","message":"{{message.content}}"}]}`, "actions[0].message", "only with the agentMessageSent"},
		{"survey score without survey trigger", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"sendMessage","message":"{{survey.score}}"}]}`, "actions[0].message", "surveyFeedbackReceived"},
		{"status open", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"setStatus","status":"open"}]}`, "actions[0].status", "solved"},
		{"bad priority", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"setPriority","priority":"asap"}]}`, "actions[0].priority", "low, normal"},
		{"bad recipient", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"emailExternal","to":["nobody"],"subject":"s","content":"c"}]}`, "actions[0].to[0]", "not an e-mail"},
		{"no request", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"callApi"}]}`, "actions[0].request", "required"},
		{"bad method", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"callApi","request":{"method":"TRACE","url":"https://x.test"}}]}`, "actions[0].request.method", "GET, POST"},
		{"bad url", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"callApi","request":{"method":"GET","url":"ftp://x.test"}}]}`, "actions[0].request.url", "http or https"},
		{"placeholder host", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"callApi","request":{"method":"GET","url":"https://{{customer.name}}.test/"}}]}`, "actions[0].request.url", "host"},
		{"bad content type", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"callApi","request":{"method":"POST","url":"https://x.test","contentType":"yaml"}}]}`, "actions[0].request.contentType", "raw, json"},
		{"bad header", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"callApi","request":{"method":"POST","url":"https://x.test","headers":[{"name":"Bad Header","value":"x"}]}}]}`, "actions[0].request.headers[0].name", "not a header name"},
		{"body on GET", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"callApi","request":{"method":"GET","url":"https://x.test","body":"{}"}}]}`, "actions[0].request.body", "no body"},
		{"body with form data", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"callApi","request":{"method":"POST","url":"https://x.test","contentType":"formData","body":"x"}}]}`, "actions[0].request.body", "sends fields"},
		{"duplicate tags", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"applyTags","tags":["VIP","vip"]}]}`, "actions[0].tags[1]", "twice"},
		{"form field not an ID", `{"triggers":[{"type":"noteCreated"}],"actions":[{"type":"populateFormFields","fields":[{"fieldId":"name","value":"x"}]}]}`, "actions[0].fields[0].fieldId", "ID of a form field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rule(t, c.doc)
			err := r.Validate()
			var v *automation.ValidationError
			if !errors.As(err, &v) {
				t.Fatalf("accepted or wrong error: %v", err)
			}
			if v.Field != c.field || !strings.Contains(v.Message, c.message) {
				t.Errorf("got %q: %q, want field %q with %q", v.Field, v.Message, c.field, c.message)
			}
		})
	}
}

func TestDurationBounds(t *testing.T) {
	cases := []struct {
		d  automation.Duration
		ok bool
	}{
		{automation.Duration{Seconds: 10}, true},
		{automation.Duration{Seconds: 9}, false},
		{automation.Duration{Minutes: 1}, true},
		{automation.Duration{Days: 89, Hours: 23, Minutes: 59, Seconds: 59}, true},
		{automation.Duration{Days: 90}, true},
		{automation.Duration{Days: 90, Seconds: 1}, false},
		{automation.Duration{Hours: 2160}, true},
		{automation.Duration{}, false},
	}
	for _, c := range cases {
		r := automation.Rule{Triggers: []automation.Trigger{{Type: automation.TriggerSolvedFor, After: &c.d}},
			Actions: []automation.Action{{Type: automation.ActionSendSurvey}}}
		if err := r.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v (%v): %v, want ok=%v", c.d, c.d.Length(), err, c.ok)
		}
	}
	if got := (automation.Duration{Days: 1, Hours: 2, Minutes: 3, Seconds: 4}).Length(); got != 26*time.Hour+3*time.Minute+4*time.Second {
		t.Errorf("length %v", got)
	}
}
