package routing_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"switchboard/routing"
)

var (
	where = routing.Where
	all   = routing.AllOf
	anyOf = routing.AnyOf
)

func route(id string, pos int, queue string, match routing.Condition) routing.Route {
	return routing.Route{ID: id, Position: pos, Enabled: true, Match: match, QueueID: queue}
}

func TestConditionJSON(t *testing.T) {
	c := all(
		where(routing.AttrChannel, routing.OpIs, "whatsapp"),
		anyOf(
			where(routing.AttrTags, routing.OpInList, "vip", "gold"),
			where("customer.tier", routing.OpIs, "premium"),
		),
	)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"all":[{"attr":"channel","op":"is","value":"whatsapp"},{"any":[{"attr":"tags","op":"in_list","values":["vip","gold"]},{"attr":"customer.tier","op":"is","value":"premium"}]}]}`
	if string(b) != want {
		t.Fatalf("JSON\n got %s\nwant %s", b, want)
	}
	var back routing.Condition
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip = %+v, %v", back, err)
	}
	r := route("r1", 1, "vip", c)
	r.Priority = routing.PriorityHigh
	if b, err = json.Marshal(r); err != nil {
		t.Fatal(err)
	}
	var rback routing.Route
	if err := json.Unmarshal(b, &rback); err != nil || !reflect.DeepEqual(rback, r) {
		t.Fatalf("route round trip = %+v, %v (json %s)", rback, err, b)
	}
}

func TestValidateRoutes(t *testing.T) {
	ok := where(routing.AttrFrom, routing.OpStartsWith, "+385")
	tests := []struct {
		name  string
		route routing.Route
		field string
	}{
		{"valid", route("r", 1, "q", ok), ""},
		{"valid nested", route("r", 1, "q", all(ok, anyOf(where(routing.AttrIsVisitor, routing.OpIs, "true"), where("customer.birthDate", routing.OpBefore, "2000-01-01")))), ""},
		{"valid custom attribute with date operator", route("r", 1, "q", where("customer.contractEnd", routing.OpOnOrAfter, "2025-01-01T00:00:00Z")), ""},
		{"missing id", routing.Route{QueueID: "q", Match: ok}, "routes[2].id"},
		{"missing queue", routing.Route{ID: "r", Match: ok}, "routes[2].queueId"},
		{"bad priority", routing.Route{ID: "r", QueueID: "q", Match: ok, Priority: 9}, "routes[2].priority"},
		{"empty skill", routing.Route{ID: "r", QueueID: "q", Match: ok, RequiredSkills: []string{"es", ""}}, "routes[2].requiredSkills[1]"},
		{"duplicate skill", routing.Route{ID: "r", QueueID: "q", Match: ok, RequiredSkills: []string{"es", "es"}}, "routes[2].requiredSkills[1]"},
		{"empty match", route("r", 1, "q", routing.Condition{}), "routes[2].match"},
		{"empty any", route("r", 1, "q", routing.Condition{Any: []routing.Condition{}}), "routes[2].match.any"},
		{"both all and any", route("r", 1, "q", routing.Condition{All: []routing.Condition{ok}, Any: []routing.Condition{ok}}), "routes[2].match"},
		{"group and leaf mixed", route("r", 1, "q", routing.Condition{All: []routing.Condition{ok}, Attr: "from"}), "routes[2].match"},
		{"unknown attribute", route("r", 1, "q", anyOf(where("colour", routing.OpIs, "red"))), "routes[2].match.any[0].attr"},
		{"missing attribute", route("r", 1, "q", anyOf(routing.Condition{Op: routing.OpIs, Value: "x"})), "routes[2].match.any[0].attr"},
		{"bad custom attribute name", route("r", 1, "q", where("customer.", routing.OpIs, "x")), "routes[2].match.attr"},
		{"custom attribute name with dot", route("r", 1, "q", where("customer.a.b", routing.OpIs, "x")), "routes[2].match.attr"},
		{"missing operator", route("r", 1, "q", routing.Condition{Attr: "from", Value: "x"}), "routes[2].match.op"},
		{"unknown operator", route("r", 1, "q", where("from", "matches", "x")), "routes[2].match.op"},
		{"date operator on text", route("r", 1, "q", all(ok, where("content", routing.OpBefore, "2020-01-01"))), "routes[2].match.all[1].op"},
		{"contains on channel", route("r", 1, "q", where("channel", routing.OpContains, "sms")), "routes[2].match.op"},
		{"contains on boolean", route("r", 1, "q", where("isVisitor", routing.OpContains, "t")), "routes[2].match.op"},
		{"is on tag list", route("r", 1, "q", where("tags", routing.OpIs, "vip")), "routes[2].match.op"},
		{"starts_with on gender", route("r", 1, "q", where("customer.gender", routing.OpStartsWith, "f")), "routes[2].match.op"},
		{"in_list on date", route("r", 1, "q", where("customer.birthDate", routing.OpInList, "2000-01-01")), "routes[2].match.op"},
		{"missing value", route("r", 1, "q", where("from", routing.OpIs)), "routes[2].match.value"},
		{"blank value", route("r", 1, "q", where("from", routing.OpIs, "  ")), "routes[2].match.value"},
		{"missing values", route("r", 1, "q", where("tags", routing.OpInList)), "routes[2].match.values"},
		{"blank list element", route("r", 1, "q", where("tags", routing.OpInList, "vip", "")), "routes[2].match.values[1]"},
		{"value given to list operator", route("r", 1, "q", routing.Condition{Attr: "tags", Op: routing.OpInList, Value: "vip"}), "routes[2].match.value"},
		{"values given to single operator", route("r", 1, "q", routing.Condition{Attr: "from", Op: routing.OpIs, Values: []string{"a"}}), "routes[2].match.values"},
		{"unknown channel value", route("r", 1, "q", where("channel", routing.OpIs, "fax")), "routes[2].match.value"},
		{"unknown channel in list", route("r", 1, "q", where("channel", routing.OpInList, "sms", "fax")), "routes[2].match.values[1]"},
		{"bad boolean", route("r", 1, "q", where("isVisitor", routing.OpIs, "yes")), "routes[2].match.value"},
		{"bad date", route("r", 1, "q", where("customer.birthDate", routing.OpAfter, "14/03/2025")), "routes[2].match.value"},
		{"bad date on custom attribute", route("r", 1, "q", where("customer.renewal", routing.OpBefore, "soon")), "routes[2].match.value"},
		{"too deep", route("r", 1, "q", deep(routing.MaxConditionDepth)), "routes[2].match" + deepPath(routing.MaxConditionDepth)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good := route("a", 1, "q", ok)
			other := route("b", 2, "q", ok)
			wantField(t, routing.ValidateRoutes([]routing.Route{good, other, tt.route}), tt.field)
		})
	}
	t.Run("duplicate ids", func(t *testing.T) {
		wantField(t, routing.ValidateRoutes([]routing.Route{route("a", 1, "q", ok), route("a", 2, "q", ok)}), "routes[1].id")
	})
	t.Run("depth limit itself is fine", func(t *testing.T) {
		wantField(t, route("a", 1, "q", deep(routing.MaxConditionDepth-1)).Validate(), "")
	})
	t.Run("single route paths are relative", func(t *testing.T) {
		wantField(t, route("a", 1, "q", anyOf(ok, where("nope", routing.OpIs, "x"))).Validate(), "match.any[1].attr")
	})
}

// deep nests a leaf under n levels of all.
func deep(n int) routing.Condition {
	c := where(routing.AttrFrom, routing.OpIs, "x")
	for range n {
		c = all(c)
	}
	return c
}

func deepPath(n int) string {
	p := ""
	for range n {
		p += ".all[0]"
	}
	return p
}

func TestConditionMatches(t *testing.T) {
	f := routing.Facts{
		Channel:   routing.LiveMessaging,
		Source:    "WhatsApp",
		From:      "+385911234567",
		To:        "Support@Example.com",
		Content:   "Hola, necesito ayuda con mi factura",
		Tags:      []string{"VIP", "billing"},
		IsVisitor: false,
		Customer: map[string]string{
			"city": "Zagreb", "country": "HR", "gender": "Female", "birthDate": "1990-05-17",
			"tier": "Gold", "lastOrder": "2025-03-01T10:00:00+01:00",
		},
		CustomerTags: []string{"Spanish"},
	}
	tests := []struct {
		name string
		c    routing.Condition
		want bool
	}{
		{"channel is", where("channel", routing.OpIs, "live_messaging"), true},
		{"channel is sub-channel, any case", where("channel", routing.OpIs, "whatsapp"), true},
		{"channel is other sub-channel", where("channel", routing.OpIs, "sms"), false},
		{"channel is not", where("channel", routing.OpIsNot, "email"), true},
		{"channel in list", where("channel", routing.OpInList, "email", "whatsapp"), true},
		{"channel not in list", where("channel", routing.OpNotInList, "email", "voice"), true},
		{"from starts with", where("from", routing.OpStartsWith, "+385"), true},
		{"from is not", where("from", routing.OpIsNot, "+385911234567"), false},
		{"to is, ignoring case", where("to", routing.OpIs, "support@example.COM"), true},
		{"to in list", where("to", routing.OpInList, "sales@example.com", "support@example.com"), true},
		{"content contains, ignoring case", where("content", routing.OpContains, "FACTURA"), true},
		{"content does not contain", where("content", routing.OpNotContains, "refund"), true},
		{"content starts with", where("content", routing.OpStartsWith, "hola"), true},
		{"content is whole text only", where("content", routing.OpIs, "hola"), false},
		{"tag in list", where("tags", routing.OpInList, "gold", "vip"), true},
		{"tag not in list", where("tags", routing.OpNotInList, "spam", "test"), true},
		{"tag not in list fails", where("tags", routing.OpNotInList, "billing"), false},
		{"tag contains is element match", where("tags", routing.OpContains, "bill"), false},
		{"customer tags contains", where("customer.tags", routing.OpContains, "spanish"), true},
		{"is visitor false", where("isVisitor", routing.OpIs, "false"), true},
		{"is visitor is not false", where("isVisitor", routing.OpIsNot, "FALSE"), false},
		{"standard attribute", where("customer.city", routing.OpIs, "zagreb"), true},
		{"standard attribute in list", where("customer.country", routing.OpInList, "SI", "HR"), true},
		{"gender", where("customer.gender", routing.OpIs, "female"), true},
		{"custom attribute", where("customer.tier", routing.OpIs, "gold"), true},
		{"custom attribute starts with", where("customer.tier", routing.OpStartsWith, "go"), true},
		{"missing attribute fails is", where("customer.firstName", routing.OpIs, "Ana"), false},
		{"missing attribute passes is not", where("customer.firstName", routing.OpIsNot, "Ana"), true},
		{"missing attribute passes not in list", where("customer.nickName", routing.OpNotInList, "x"), true},
		{"birth date before", where("customer.birthDate", routing.OpBefore, "1990-05-18"), true},
		{"birth date before same day", where("customer.birthDate", routing.OpBefore, "1990-05-17"), false},
		{"birth date on or before same day", where("customer.birthDate", routing.OpOnOrBefore, "1990-05-17"), true},
		{"birth date after", where("customer.birthDate", routing.OpAfter, "1990-05-16"), true},
		{"birth date on or after", where("customer.birthDate", routing.OpOnOrAfter, "1990-05-17"), true},
		{"birth date is", where("customer.birthDate", routing.OpIs, "1990-05-17"), true},
		{"birth date is not", where("customer.birthDate", routing.OpIsNot, "1990-05-17"), false},
		{"birth date vs date-time compares days", where("customer.birthDate", routing.OpIs, "1990-05-17T23:30:00-05:00"), true},
		{"custom date-time after instant", where("customer.lastOrder", routing.OpAfter, "2025-03-01T08:59:59Z"), true},
		{"custom date-time instants across zones", where("customer.lastOrder", routing.OpBefore, "2025-03-01T09:00:00Z"), false},
		{"custom date-time vs date uses written day", where("customer.lastOrder", routing.OpOnOrBefore, "2025-03-01"), true},
		{"custom date-time vs date: same day is not before", where("customer.lastOrder", routing.OpBefore, "2025-03-01"), false},
		{"custom attribute is compares text, not dates", where("customer.lastOrder", routing.OpIs, "2025-03-01"), false},
		{"text attribute not a date fails date test", where("customer.tier", routing.OpBefore, "2025-01-01"), false},
		{"all", all(where("channel", routing.OpIs, "whatsapp"), where("customer.tier", routing.OpIs, "gold")), true},
		{"all fails", all(where("channel", routing.OpIs, "whatsapp"), where("customer.tier", routing.OpIs, "silver")), false},
		{"any", anyOf(where("channel", routing.OpIs, "email"), where("tags", routing.OpInList, "vip")), true},
		{"nested", all(anyOf(where("channel", routing.OpIs, "email"), where("from", routing.OpContains, "91")), where("isVisitor", routing.OpIs, "false")), true},
		{"malformed never matches", routing.Condition{Attr: "colour", Op: routing.OpIsNot, Value: "red"}, false},
		{"malformed negation never matches", where("customer.birthDate", routing.OpIsNot, "not a date"), false},
		{"empty never matches", routing.Condition{}, false},
		{"empty all never matches", routing.Condition{All: []routing.Condition{}}, false},
		{"too deep never matches", deep(routing.MaxConditionDepth), false},
	}
	for _, tt := range tests {
		if got := tt.c.Matches(f); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestChannelDerivedFromSource(t *testing.T) {
	f := routing.Facts{Source: "sms"}
	if !where("channel", routing.OpIs, "live_messaging").Matches(f) {
		t.Fatal("channel not derived from source")
	}
}

func TestRouteInteraction(t *testing.T) {
	spanish := where("customer.language", routing.OpIs, "es")
	premium := where("customer.tier", routing.OpIs, "premium")
	to123 := where("to", routing.OpIs, "123")
	premiumRoute := route("premium", 1, "q-premium", all(to123, premium))
	premiumRoute.Priority = routing.PriorityHigh
	premiumRoute.RequiredSkills = []string{"es", "en"}
	spanishRoute := route("spanish", 2, "q-spanish", all(to123, spanish))
	both := routing.Facts{To: "123", Customer: map[string]string{"language": "ES", "tier": "Premium"}}

	tests := []struct {
		name   string
		facts  routing.Facts
		routes []routing.Route
		want   routing.Decision
	}{
		{"first match by position wins (reference example)", both, []routing.Route{spanishRoute, premiumRoute},
			routing.Decision{RouteID: "premium", QueueID: "q-premium", Priority: routing.PriorityHigh, RequiredSkills: []string{"es", "en"}}},
		{"later route when first does not match", routing.Facts{To: "123", Customer: map[string]string{"language": "es"}},
			[]routing.Route{premiumRoute, spanishRoute},
			routing.Decision{RouteID: "spanish", QueueID: "q-spanish"}},
		{"disabled route skipped", both, []routing.Route{disabled(premiumRoute), spanishRoute},
			routing.Decision{RouteID: "spanish", QueueID: "q-spanish"}},
		{"equal positions broken by id", both, []routing.Route{
			route("b", 5, "q-b", to123), route("a", 5, "q-a", to123)},
			routing.Decision{RouteID: "a", QueueID: "q-a"}},
		{"no match goes to default", routing.Facts{To: "999"}, []routing.Route{premiumRoute, spanishRoute},
			routing.Decision{QueueID: routing.DefaultQueue, Default: true}},
		{"no routes goes to default", both, nil,
			routing.Decision{QueueID: routing.DefaultQueue, Default: true}},
		{"malformed route never captures traffic", both, []routing.Route{
			route("bad", 0, "q-bad", where("nope", routing.OpIsNot, "x")), spanishRoute},
			routing.Decision{RouteID: "spanish", QueueID: "q-spanish"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := append([]routing.Route(nil), tt.routes...)
			got := routing.RouteInteraction(tt.facts, tt.routes)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if !reflect.DeepEqual(before, tt.routes) {
				t.Fatal("RouteInteraction reordered its input")
			}
		})
	}
}

func disabled(r routing.Route) routing.Route {
	r.Enabled = false
	return r
}
