package pgstore_test

import (
	"context"
	"strings"
	"testing"

	"switchboard/pgstore"
	"switchboard/routing"
)

// Every refused ACD write names its field, and none of them changes anything.
func TestACDValidation(t *testing.T) {
	t.Parallel()
	ct := newTenant(t)
	tid := ct.Tenant.ID
	agent := newUser(t, tid, pgstore.RoleAgent)
	q := newQueue(t, tid, "Sales")
	sk := newSkill(t, tid, "Billing")
	r := newRoute(t, tid, "R", q.ID)
	otherTenant := newTenant(t).Tenant.ID
	foreignSkill := newSkill(t, otherTenant, "Foreign")
	foreignQueue := newQueue(t, otherTenant, "Foreign")
	before := snapshot(t, tid)

	long := func(n int) string { return strings.Repeat("x", n) }
	ptr := func(s string) *string { return &s }
	num := func(n int) *int { return &n }
	mode := func(m pgstore.AssignmentMode) *pgstore.AssignmentMode { return &m }
	window := func(w routing.StickyWindow) *routing.StickyWindow { return &w }
	capacity := func(c routing.Capacity) *routing.Capacity { return &c }
	wrap := func(n int) pgstore.Nullable[int] { return pgstore.Nullable[int]{Set: true, Value: &n} }
	yes := true

	skill := func(name string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := store.CreateSkill(ctx, tid, pgstore.Actor{}, pgstore.NewSkill{Name: name})
			return err
		}
	}
	listSkills := func(f pgstore.SkillFilter) func(context.Context) error {
		return func(ctx context.Context) error { _, err := store.ListSkills(ctx, tid, f); return err }
	}
	queue := func(in pgstore.NewQueue) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := store.CreateQueue(ctx, tid, pgstore.Actor{}, in)
			return err
		}
	}
	updQueue := func(in pgstore.QueueUpdate) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := store.UpdateQueue(ctx, tid, pgstore.Actor{}, q.ID, in)
			return err
		}
	}
	route := func(in pgstore.NewRoute) func(context.Context) error {
		return func(ctx context.Context) error {
			if in.Name == "" {
				in.Name = "N"
			}
			if in.QueueID == "" {
				in.QueueID = q.ID
			}
			if in.Condition == nil {
				in.Condition = cond("from", routing.OpIs, "1")
			}
			_, err := store.CreateRoute(ctx, tid, pgstore.Actor{}, in)
			return err
		}
	}
	updRoute := func(in pgstore.RouteUpdate) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := store.UpdateRoute(ctx, tid, pgstore.Actor{}, r.ID, in)
			return err
		}
	}
	updAgent := func(in pgstore.AgentUpdate) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := store.UpdateAgent(ctx, tid, pgstore.Actor{}, agent.ID, in)
			return err
		}
	}
	settings := func(in pgstore.ACDSettingsUpdate) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := store.UpdateACDSettings(ctx, tid, pgstore.Actor{}, in)
			return err
		}
	}
	status := func(in pgstore.NewStatus) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := store.CreateStatus(ctx, tid, pgstore.Actor{}, in)
			return err
		}
	}
	deepest := routing.Where("from", routing.OpIs, "1")
	for range routing.MaxConditionDepth {
		deepest = routing.AllOf(deepest)
	}

	tests := []struct {
		name  string
		call  func(context.Context) error
		field string
	}{
		{"skill name empty", skill(" "), "name"},
		{"skill name 101 characters", skill(long(101)), "name"},
		{"skill search 101 characters", listSkills(pgstore.SkillFilter{Query: long(101)}), "q"},
		{"skill page limit", listSkills(pgstore.SkillFilter{Page: pgstore.Page{Limit: 500}}), "limit"},

		{"queue name empty", queue(pgstore.NewQueue{}), "name"},
		{"queue name 101 characters", queue(pgstore.NewQueue{Name: long(101)}), "name"},
		{"queue mode unknown", queue(pgstore.NewQueue{Name: "Q", AssignmentMode: "random"}), "assignmentMode"},
		{"queue sticky without window", queue(pgstore.NewQueue{Name: "Q", AssignmentMode: pgstore.AssignSticky}), "stickyWindow"},
		{"queue sticky window unknown", queue(pgstore.NewQueue{Name: "Q", AssignmentMode: pgstore.AssignSticky, StickyWindow: "7d"}), "stickyWindow"},
		{"queue window without sticky", queue(pgstore.NewQueue{Name: "Q", StickyWindow: routing.Sticky30Days}), "stickyWindow"},
		{"queue agent not an ID", queue(pgstore.NewQueue{Name: "Q", AgentIDs: []string{"bob"}}), "agentIds[0]"},
		{"queue agent is the admin", queue(pgstore.NewQueue{Name: "Q", AgentIDs: []string{agent.ID, ct.Admin.ID}}), "agentIds[1]"},
		{"queue update nothing", updQueue(pgstore.QueueUpdate{}), ""},
		{"queue update name blank", updQueue(pgstore.QueueUpdate{Name: ptr(" ")}), "name"},
		{"queue update mode unknown", updQueue(pgstore.QueueUpdate{AssignmentMode: mode("round_robin")}), "assignmentMode"},
		{"queue update window empty", updQueue(pgstore.QueueUpdate{StickyWindow: window("")}), "stickyWindow"},
		{"queue update window on any", updQueue(pgstore.QueueUpdate{StickyWindow: window(routing.Sticky30Days)}), "stickyWindow"},

		{"route name empty", route(pgstore.NewRoute{Name: " "}), "name"},
		{"route name 201 characters", route(pgstore.NewRoute{Name: long(201)}), "name"},
		{"route position negative", route(pgstore.NewRoute{Position: -1}), "position"},
		{"route position past the end", route(pgstore.NewRoute{Position: 3}), "position"},
		{"route priority unknown", route(pgstore.NewRoute{Priority: "critical"}), "priority"},
		{"route priority upper case", route(pgstore.NewRoute{Priority: "High"}), "priority"},
		{"route queue not an ID", route(pgstore.NewRoute{QueueID: "sales"}), "queueId"},
		{"route queue unknown", route(pgstore.NewRoute{QueueID: "00000000-0000-4000-8000-000000000000"}), "queueId"},
		{"route queue of another tenant", route(pgstore.NewRoute{QueueID: foreignQueue.ID}), "queueId"},
		{"route skill unknown", route(pgstore.NewRoute{RequiredSkills: []string{sk.ID, "00000000-0000-4000-8000-000000000000"}}), "requiredSkills[1]"},
		{"route skill of another tenant", route(pgstore.NewRoute{RequiredSkills: []string{foreignSkill.ID}}), "requiredSkills[0]"},
		{"route skill twice", route(pgstore.NewRoute{RequiredSkills: []string{sk.ID, sk.ID}}), "requiredSkills[1]"},
		{"route skill not an ID", route(pgstore.NewRoute{RequiredSkills: []string{"Billing"}}), "requiredSkills[0]"},
		{"route condition missing", func(ctx context.Context) error {
			_, err := store.CreateRoute(ctx, tid, pgstore.Actor{}, pgstore.NewRoute{Name: "N", QueueID: q.ID})
			return err
		}, "condition"},
		{"route condition empty", route(pgstore.NewRoute{Condition: &routing.Condition{}}), "condition"},
		{"route condition unknown attribute", route(pgstore.NewRoute{Condition: cond("shoeSize", routing.OpIs, "42")}), "condition.attr"},
		{"route condition nested unknown attribute", route(pgstore.NewRoute{Condition: &routing.Condition{Any: []routing.Condition{
			routing.Where("from", routing.OpIs, "1"), routing.Where("customer.", routing.OpIs, "x")}}}), "condition.any[1].attr"},
		{"route condition unknown operator", route(pgstore.NewRoute{Condition: cond("from", "like", "1")}), "condition.op"},
		{"route condition operator for another type", route(pgstore.NewRoute{Condition: cond(routing.AttrIsVisitor, routing.OpContains, "true")}), "condition.op"},
		{"route condition bad date", route(pgstore.NewRoute{Condition: cond("customer.birthDate", routing.OpBefore, "yesterday")}), "condition.value"},
		{"route condition unknown channel", route(pgstore.NewRoute{Condition: cond(routing.AttrChannel, routing.OpIs, "fax")}), "condition.value"},
		{"route condition too deep", route(pgstore.NewRoute{Condition: &deepest}), "condition.all[0].all[0].all[0].all[0].all[0].all[0].all[0].all[0]"},
		{"route update nothing", updRoute(pgstore.RouteUpdate{}), ""},
		{"route update position 0", updRoute(pgstore.RouteUpdate{Position: num(0)}), "position"},
		{"route update position past the end", updRoute(pgstore.RouteUpdate{Position: num(2)}), "position"},
		{"route update priority", updRoute(pgstore.RouteUpdate{Priority: ptr("asap")}), "priority"},
		{"route update unknown queue", updRoute(pgstore.RouteUpdate{QueueID: &foreignQueue.ID}), "queueId"},
		{"route update unknown skill", updRoute(pgstore.RouteUpdate{RequiredSkills: &[]string{foreignSkill.ID}}), "requiredSkills[0]"},
		{"route update bad condition", updRoute(pgstore.RouteUpdate{Condition: cond("tags", routing.OpIs, "vip")}), "condition.op"},

		{"agent nothing", updAgent(pgstore.AgentUpdate{}), ""},
		{"agent title 101 characters", updAgent(pgstore.AgentUpdate{Title: ptr(long(101))}), "title"},
		{"agent phone letters", updAgent(pgstore.AgentUpdate{Phone: ptr("call me")}), "phone"},
		{"agent extension letters", updAgent(pgstore.AgentUpdate{Extension: ptr("12a")}), "extension"},
		{"agent extension 17 digits", updAgent(pgstore.AgentUpdate{Extension: ptr(strings.Repeat("1", 17))}), "extension"},
		{"agent capacity negative", updAgent(pgstore.AgentUpdate{Capacity: capacity(routing.Capacity{routing.Email: -1})}), "capacity.email"},
		{"agent capacity voice 2", updAgent(pgstore.AgentUpdate{Capacity: capacity(routing.Capacity{routing.Voice: 2})}), "capacity.voice"},
		{"agent capacity voice 0", updAgent(pgstore.AgentUpdate{Capacity: capacity(routing.Capacity{routing.Voice: 0})}), "capacity.voice"},
		{"agent capacity unknown channel", updAgent(pgstore.AgentUpdate{Capacity: capacity(routing.Capacity{"fax": 1})}), "capacity.fax"},
		{"agent capacity too large", updAgent(pgstore.AgentUpdate{Capacity: capacity(routing.Capacity{routing.LiveChat: 1001})}), "capacity.live_chat"},
		{"agent wrap-up negative", updAgent(pgstore.AgentUpdate{WrapUpSeconds: wrap(-1)}), "wrapUpSeconds"},
		{"agent wrap-up over an hour", updAgent(pgstore.AgentUpdate{WrapUpSeconds: wrap(3601)}), "wrapUpSeconds"},
		{"agent queue unknown", updAgent(pgstore.AgentUpdate{QueueIDs: &[]string{q.ID, foreignQueue.ID}}), "queueIds[1]"},
		{"agent queue not an ID", updAgent(pgstore.AgentUpdate{QueueIDs: &[]string{"Sales"}}), "queueIds[0]"},
		{"agent skill unknown", updAgent(pgstore.AgentUpdate{SkillIDs: &[]string{foreignSkill.ID}}), "skillIds[0]"},
		{"agent skill twice", updAgent(pgstore.AgentUpdate{SkillIDs: &[]string{sk.ID, strings.ToUpper(sk.ID)}}), "skillIds[1]"},

		{"settings nothing", settings(pgstore.ACDSettingsUpdate{}), ""},
		{"settings capacity negative", settings(pgstore.ACDSettingsUpdate{DefaultCapacity: capacity(routing.Capacity{routing.LiveMessaging: -5})}), "defaultCapacity.live_messaging"},
		{"settings capacity voice 3", settings(pgstore.ACDSettingsUpdate{DefaultCapacity: capacity(routing.Capacity{routing.Voice: 3})}), "defaultCapacity.voice"},
		{"settings open excluded", settings(pgstore.ACDSettingsUpdate{CountedStatuses: &pgstore.CountedStatusesUpdate{Open: new(bool)}}), "countedStatuses.open"},
		{"settings counted statuses empty", settings(pgstore.ACDSettingsUpdate{CountedStatuses: &pgstore.CountedStatusesUpdate{}}), "countedStatuses"},
		{"settings wrap-up negative", settings(pgstore.ACDSettingsUpdate{WrapUpSeconds: num(-30)}), "wrapUpSeconds"},

		{"status name empty", status(pgstore.NewStatus{Group: routing.GroupBusy}), "name"},
		{"status name 65 characters", status(pgstore.NewStatus{Name: long(65), Group: routing.GroupBusy}), "name"},
		{"status group unknown", status(pgstore.NewStatus{Name: "Nap", Group: "asleep"}), "group"},
		{"status group missing", status(pgstore.NewStatus{Name: "Nap"}), "group"},
		{"status break reason not away", status(pgstore.NewStatus{Name: "Nap", Group: routing.GroupBusy, BreakReason: yes}), "breakReason"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantInvalid(t, tc.call(testContext(t)), tc.field)
		})
	}
	if after := snapshot(t, tid); after != before {
		t.Errorf("rejected writes changed data:\nbefore %s\nafter  %s", before, after)
	}
}
