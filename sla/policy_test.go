package sla_test

import (
	"errors"
	"testing"
	"time"

	"switchboard/routing"
	"switchboard/sla"
)

func policy(id string, f func(*sla.Policy)) sla.Policy {
	p := sla.Policy{
		ID: id, Enabled: true,
		Condition:  routing.Where(routing.AttrChannel, routing.OpIs, "live_chat"),
		Queues:     sla.Queues{Mode: sla.AnyQueue},
		Severities: []sla.Severity{severity(15, 5, 60, sla.Always)},
	}
	if f != nil {
		f(&p)
	}
	return p
}

func ptr(t time.Time) *time.Time { return &t }

func TestMatch(t *testing.T) {
	chat := routing.Facts{Channel: routing.LiveChat, Customer: map[string]string{"company": "A"}}
	company := routing.Where(routing.CustomerPrefix+"company", routing.OpIs, "a")
	now := t0
	cases := []struct {
		name     string
		policies []sla.Policy
		conv     sla.Conversation
		want     string // "" = none
	}{
		{"first match wins", []sla.Policy{policy("p1", nil), policy("p2", nil)}, sla.Conversation{Facts: chat, At: now}, "p1"},
		{"non-matching condition skipped", []sla.Policy{
			policy("p1", func(p *sla.Policy) { p.Condition = routing.Where(routing.AttrChannel, routing.OpIs, "voice") }),
			policy("p2", func(p *sla.Policy) { p.Condition = company }),
		}, sla.Conversation{Facts: chat, At: now}, "p2"},
		{"AND/OR groups", []sla.Policy{
			policy("p1", func(p *sla.Policy) {
				p.Condition = routing.AllOf(company, routing.AnyOf(routing.Where(routing.AttrTags, routing.OpContains, "vip"), routing.Where(routing.AttrChannel, routing.OpIs, "voice")))
			}),
			policy("p2", func(p *sla.Policy) {
				p.Condition = routing.AllOf(company, routing.AnyOf(routing.Where(routing.AttrTags, routing.OpContains, "vip"), routing.Where(routing.AttrChannel, routing.OpIs, "live_chat")))
			}),
		}, sla.Conversation{Facts: chat, At: now}, "p2"},
		{"disabled skipped", []sla.Policy{policy("p1", func(p *sla.Policy) { p.Enabled = false }), policy("p2", nil)}, sla.Conversation{Facts: chat, At: now}, "p2"},
		{"not yet valid skipped", []sla.Policy{policy("p1", func(p *sla.Policy) { p.ValidFrom = ptr(now.Add(time.Second)) }), policy("p2", nil)}, sla.Conversation{Facts: chat, At: now}, "p2"},
		{"valid from is inclusive", []sla.Policy{policy("p1", func(p *sla.Policy) { p.ValidFrom = ptr(now) }), policy("p2", nil)}, sla.Conversation{Facts: chat, At: now}, "p1"},
		{"expired skipped (valid to is exclusive)", []sla.Policy{policy("p1", func(p *sla.Policy) { p.ValidTo = ptr(now) }), policy("p2", nil)}, sla.Conversation{Facts: chat, At: now}, "p2"},
		{"within validity", []sla.Policy{policy("p1", func(p *sla.Policy) { p.ValidFrom, p.ValidTo = ptr(now.Add(-time.Hour)), ptr(now.Add(time.Hour)) })}, sla.Conversation{Facts: chat, At: now}, "p1"},
		{"queue applied: other queue skipped", []sla.Policy{
			policy("p1", func(p *sla.Policy) { p.Queues = sla.Queues{Mode: sla.AppliedQueues, QueueIDs: []string{"q1"}} }), policy("p2", nil),
		}, sla.Conversation{Facts: chat, QueueID: "q2", At: now}, "p2"},
		{"queue applied: listed queue matches", []sla.Policy{
			policy("p1", func(p *sla.Policy) { p.Queues = sla.Queues{Mode: sla.AppliedQueues, QueueIDs: []string{"q1", "q2"}} }), policy("p2", nil),
		}, sla.Conversation{Facts: chat, QueueID: "q2", At: now}, "p1"},
		{"queue ignored: listed queue skipped", []sla.Policy{
			policy("p1", func(p *sla.Policy) { p.Queues = sla.Queues{Mode: sla.IgnoredQueues, QueueIDs: []string{"q2"}} }), policy("p2", nil),
		}, sla.Conversation{Facts: chat, QueueID: "q2", At: now}, "p2"},
		{"queue ignored: other queue matches", []sla.Policy{
			policy("p1", func(p *sla.Policy) { p.Queues = sla.Queues{Mode: sla.IgnoredQueues, QueueIDs: []string{"q2"}} }), policy("p2", nil),
		}, sla.Conversation{Facts: chat, QueueID: "q1", At: now}, "p1"},
		{"nothing matches", []sla.Policy{policy("p1", func(p *sla.Policy) { p.Enabled = false })}, sla.Conversation{Facts: chat, At: now}, ""},
		{"empty list", nil, sla.Conversation{Facts: chat, At: now}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, ok := sla.Match(c.policies, c.conv)
			if got := map[bool]string{true: p.ID}[ok]; got != c.want {
				t.Errorf("matched %q, want %q", got, c.want)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	two := func(p *sla.Policy) {
		p.Severities = append(p.Severities, sla.Severity{Name: "Severity 1", FirstResponseMinutes: 5, Counting: sla.WorkingHours})
	}
	cases := []struct {
		name  string
		edit  func(*sla.Policy)
		field string // "" = valid
	}{
		{"valid", nil, ""},
		{"valid with two severities", two, ""},
		{"unknown attribute", func(p *sla.Policy) { p.Condition = routing.AnyOf(routing.Where("company", routing.OpIs, "A")) }, "condition.any[0].attr"},
		{"unknown operator", func(p *sla.Policy) { p.Condition = routing.Where(routing.AttrFrom, "equals", "A") }, "condition.op"},
		{"empty condition", func(p *sla.Policy) { p.Condition = routing.Condition{} }, "condition"},
		{"validity reversed", func(p *sla.Policy) { p.ValidFrom, p.ValidTo = ptr(t0), ptr(t0) }, "validTo"},
		{"queue mode unknown", func(p *sla.Policy) { p.Queues.Mode = "some" }, "queues.mode"},
		{"applied without queues", func(p *sla.Policy) { p.Queues.Mode = sla.AppliedQueues }, "queues.queueIds"},
		{"queue twice", func(p *sla.Policy) { p.Queues = sla.Queues{Mode: sla.IgnoredQueues, QueueIDs: []string{"a", "a"}} }, "queues.queueIds[1]"},
		{"no severities", func(p *sla.Policy) { p.Severities = nil }, "severities"},
		{"no default", func(p *sla.Policy) { p.Severities[0].Default = false }, "severities"},
		{"two defaults", func(p *sla.Policy) { two(p); p.Severities[1].Default = true }, "severities"},
		{"no metric", func(p *sla.Policy) { two(p); p.Severities[1].FirstResponseMinutes = 0 }, "severities[1].firstResponseMinutes"},
		{"negative minutes", func(p *sla.Policy) { p.Severities[0].NextReplyMinutes = -1 }, "severities[0].nextReplyMinutes"},
		{"too many minutes", func(p *sla.Policy) { p.Severities[0].ResolutionMinutes = sla.MaxMinutes + 1 }, "severities[0].resolutionMinutes"},
		{"unknown counting", func(p *sla.Policy) { p.Severities[0].Counting = "sometimes" }, "severities[0].counting"},
		{"targets in seconds", func(p *sla.Policy) {
			p.Severities[0] = sla.Severity{Name: "Default", Default: true, FirstResponseSeconds: 30, ResolutionSeconds: 90, Counting: sla.Always}
		}, ""},
		{"minutes and seconds of one metric", func(p *sla.Policy) { p.Severities[0].FirstResponseSeconds = 30 }, "severities[0].firstResponseSeconds"},
		{"negative seconds", func(p *sla.Policy) { p.Severities[0].NextReplySeconds = -1 }, "severities[0].nextReplySeconds"},
		{"too many seconds", func(p *sla.Policy) {
			p.Severities[0].ResolutionMinutes, p.Severities[0].ResolutionSeconds = 0, sla.MaxMinutes*60+1
		}, "severities[0].resolutionSeconds"},
		{"severity unnamed", func(p *sla.Policy) { p.Severities[0].Name = " " }, "severities[0].name"},
		{"severity named twice", func(p *sla.Policy) { two(p); p.Severities[1].Name = "default" }, "severities[1].name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := policy("p", c.edit).Validate()
			var v *sla.ValidationError
			switch {
			case c.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.field == "":
			case !errors.As(err, &v):
				t.Fatalf("err %v, want a validation error on %s", err, c.field)
			case v.Field != c.field:
				t.Fatalf("field %q (%s), want %q", v.Field, v.Message, c.field)
			}
		})
	}
}

func TestSeverityTarget(t *testing.T) {
	s := sla.Severity{FirstResponseMinutes: 2, NextReplySeconds: 45}
	for m, want := range map[sla.Metric]time.Duration{sla.FirstResponse: 2 * time.Minute, sla.NextReply: 45 * time.Second, sla.Resolution: 0} {
		if got := s.Target(m); got != want {
			t.Errorf("%s: target %s, want %s", m, got, want)
		}
	}
}
