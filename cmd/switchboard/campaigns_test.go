package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestCampaigns drives campaigns and their disposition codes through the API: the
// Default campaign every tenant starts with, a campaign configured with its tree and
// the tree edited in place, who may read and change what, tenants kept apart, agents
// logging in to a campaign by name or ID, every bad configuration answering 4xx in the
// documented format and changing nothing, and deletes refused while the campaign is
// the Default one or has an active interaction.
func TestCampaigns(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	if adminKey == "" {
		t.Fatalf("no admin key printed:\n%s", s.out)
	}
	s.tenantOf(t, adminKey)
	_, supKey := s.newUserKey(t, adminKey, "supervisor")
	_, agentKey := s.newUserKey(t, adminKey, "agent")
	_, crmKey := s.newUserKey(t, adminKey, "integration")

	items := func(v map[string]any) []map[string]any {
		list, _ := v["items"].([]any)
		out := make([]map[string]any, len(list))
		for i, x := range list {
			out[i] = x.(map[string]any)
		}
		return out
	}
	id := func(v map[string]any) string { return v["id"].(string) }
	classes := func(tree map[string]any) []map[string]any { return items(map[string]any{"items": tree["classes"]}) }
	codes := func(class map[string]any) []map[string]any { return items(map[string]any{"items": class["codes"]}) }
	// shape is a tree's names and flags in order, without IDs.
	shape := func(tree map[string]any) string {
		var b strings.Builder
		for _, k := range classes(tree) {
			b.WriteString(k["name"].(string) + "{")
			for _, d := range codes(k) {
				b.WriteString(d["name"].(string))
				for _, f := range []string{"callback", "blacklist", "success", "default"} {
					if d[f] == true {
						b.WriteString("/" + f)
					}
				}
				b.WriteString(";")
			}
			b.WriteString("}")
		}
		return b.String()
	}

	var defaultID, resolvedID, winterID, salesQueue, otherQueue, otherCampaign string
	t.Run("the Default campaign", func(t *testing.T) {
		cs := items(s.call(t, "GET", "/v1/campaigns", supKey, nil, 200))
		if len(cs) != 1 {
			t.Fatalf("a tenant starts with the Default campaign alone: %v", cs)
		}
		c := cs[0]
		d, _ := c["defaultDisposition"].(map[string]any)
		if c["isDefault"] != true || c["name"] != "Default" || c["enabled"] != true || c["wrapUpTimeoutSeconds"] != 60.0 ||
			c["recordingEnabled"] != false || c["callerId"] != nil || c["defaultQueueId"] != nil ||
			d == nil || d["class"] != "Closed" || d["code"] != "Resolved" || c["defaultDispositionCodeId"] != d["codeId"] {
			t.Fatalf("Default campaign %v", c)
		}
		defaultID, resolvedID = id(c), d["codeId"].(string)
		tree := s.call(t, "GET", "/v1/campaigns/"+defaultID+"/dispositions", agentKey, nil, 200)
		if got := shape(tree); got != "Closed{Resolved/success/default;No action;}" {
			t.Errorf("Default tree %s", got)
		}
	})

	t.Run("configure", func(t *testing.T) {
		salesQueue = id(s.call(t, "POST", "/v1/queues", adminKey, map[string]any{"name": "Sales"}, 201))
		c := s.call(t, "POST", "/v1/campaigns", adminKey, map[string]any{"name": "Winter sale", "description": "Renewals before the season",
			"wrapUpTimeoutSeconds": 90, "defaultQueueId": salesQueue, "callerId": "+442071838750", "recordingEnabled": true}, 201)
		winterID = id(c)
		if c["isDefault"] != false || c["enabled"] != true || c["wrapUpTimeoutSeconds"] != 90.0 || c["defaultQueueId"] != salesQueue ||
			c["callerId"] != "+442071838750" || c["recordingEnabled"] != true || c["defaultDisposition"] != nil || c["defaultDispositionCodeId"] != nil {
			t.Errorf("created %v", c)
		}
		if tree := s.call(t, "GET", "/v1/campaigns/"+winterID+"/dispositions", adminKey, nil, 200); len(classes(tree)) != 0 {
			t.Errorf("a new campaign's tree %v", tree)
		}

		first := s.call(t, "PUT", "/v1/campaigns/"+winterID+"/dispositions", adminKey, `{"classes":[
			{"name":"Sale","codes":[{"name":"Sold","success":true,"default":true},{"name":"Call back later","callback":true}]},
			{"name":"No sale","codes":[{"name":"Not interested"},{"name":"Do not call","blacklist":true}]}]}`, 200)
		want := "Sale{Sold/success/default;Call back later/callback;}No sale{Not interested;Do not call/blacklist;}"
		if got := shape(first); got != want {
			t.Fatalf("first tree %s, want %s", got, want)
		}
		if got := s.call(t, "GET", "/v1/campaigns/"+winterID+"/dispositions", agentKey, nil, 200); shape(got) != want ||
			id(classes(got)[1]) != id(classes(first)[1]) {
			t.Errorf("read back %v", got)
		}
		c = s.call(t, "GET", "/v1/campaigns/"+winterID, supKey, nil, 200)
		if d, _ := c["defaultDisposition"].(map[string]any); d == nil || d["class"] != "Sale" || d["code"] != "Sold" || d["success"] != true {
			t.Errorf("default disposition %v", c["defaultDisposition"])
		}

		// Edit what GET answered and send it back: "Sale" is renamed, "Call back later"
		// moves to the other class, "Not interested" goes and "Voicemail" is new.
		sale, noSale := classes(first)[0], classes(first)[1]
		sold, later, dnc := codes(sale)[0], codes(sale)[1], codes(noSale)[1]
		sale["name"] = "Won"
		sale["codes"] = []any{sold}
		noSale["codes"] = []any{later, dnc, map[string]any{"name": "Voicemail"}}
		second := s.call(t, "PUT", "/v1/campaigns/"+winterID+"/dispositions", adminKey, first, 200)
		want = "Won{Sold/success/default;}No sale{Call back later/callback;Do not call/blacklist;Voicemail;}"
		if got := shape(second); got != want {
			t.Fatalf("second tree %s, want %s", got, want)
		}
		k := classes(second)
		if id(k[0]) != id(sale) || id(k[1]) != id(noSale) || id(codes(k[1])[0]) != id(later) || id(codes(k[0])[0]) != id(sold) {
			t.Errorf("IDs not kept: %v", second)
		}

		c = s.call(t, "PATCH", "/v1/campaigns/"+winterID, adminKey, `{"defaultDispositionCodeId":"`+id(later)+`","callerId":null,"wrapUpTimeoutSeconds":0}`, 200)
		if d, _ := c["defaultDisposition"].(map[string]any); d == nil || d["code"] != "Call back later" || d["class"] != "No sale" ||
			d["callback"] != true || c["callerId"] != nil || c["wrapUpTimeoutSeconds"] != 0.0 || c["name"] != "Winter sale" {
			t.Errorf("patched %v", c)
		}
		if got := shape(s.call(t, "GET", "/v1/campaigns/"+winterID+"/dispositions", adminKey, nil, 200)); !strings.Contains(got, "Call back later/callback/default;") {
			t.Errorf("the tree marks the new default: %s", got)
		}
		// A disabled campaign for the login and listing checks.
		s.call(t, "POST", "/v1/campaigns", adminKey, map[string]any{"name": "Paused", "enabled": false}, 201)
		if cs := items(s.call(t, "GET", "/v1/campaigns", supKey, nil, 200)); len(cs) != 3 || id(cs[0]) != defaultID || id(cs[1]) != winterID {
			t.Errorf("campaigns %v", cs)
		}
		if cs := items(s.call(t, "GET", "/v1/campaigns?limit=1&after="+defaultID, supKey, nil, 200)); len(cs) != 1 || id(cs[0]) != winterID {
			t.Errorf("second page %v", cs)
		}
	})

	t.Run("roles", func(t *testing.T) {
		// Agents read the enabled campaigns and the trees; integrations read everything.
		if cs := items(s.call(t, "GET", "/v1/campaigns", agentKey, nil, 200)); len(cs) != 2 || id(cs[1]) != winterID {
			t.Errorf("agents see the enabled campaigns: %v", cs)
		}
		s.call(t, "GET", "/v1/campaigns/"+winterID+"/dispositions", agentKey, nil, 200)
		s.call(t, "GET", "/v1/campaigns", crmKey, nil, 200)
		s.call(t, "GET", "/v1/campaigns/"+winterID, crmKey, nil, 200)
		s.call(t, "GET", "/v1/campaigns/"+winterID+"/dispositions", crmKey, nil, 200)
		s.call(t, "GET", "/v1/campaigns/"+winterID, supKey, nil, 200)
		tree := `{"classes":[]}`
		for _, c := range []struct{ key, method, path, body string }{
			{agentKey, "GET", "/v1/campaigns/" + winterID, ""},
			{agentKey, "POST", "/v1/campaigns", `{"name":"Mine"}`},
			{agentKey, "PUT", "/v1/campaigns/" + winterID + "/dispositions", tree},
			{agentKey, "DELETE", "/v1/campaigns/" + winterID, ""},
			{supKey, "POST", "/v1/campaigns", `{"name":"Mine"}`},
			{supKey, "PATCH", "/v1/campaigns/" + winterID, `{"enabled":false}`},
			{supKey, "PUT", "/v1/campaigns/" + winterID + "/dispositions", tree},
			{supKey, "DELETE", "/v1/campaigns/" + winterID, ""},
			{crmKey, "PATCH", "/v1/campaigns/" + winterID, `{"enabled":false}`},
			{crmKey, "PUT", "/v1/campaigns/" + winterID + "/dispositions", tree},
		} {
			s.wantError(t, c.method, c.path, c.key, c.body, 403, "forbidden", "")
		}
		s.wantError(t, "GET", "/v1/campaigns", "", nil, 401, "unauthenticated", "")
	})

	t.Run("tenants are isolated", func(t *testing.T) {
		other := s.call(t, "POST", "/v1/tenants", adminKey, map[string]any{"slug": "other-campaigns", "name": "Other",
			"admin": map[string]string{"email": "boss@other.test", "name": "Boss"}}, 201)
		otherKey := other["apiKey"].(map[string]any)["secret"].(string)
		cs := items(s.call(t, "GET", "/v1/campaigns", otherKey, nil, 200))
		if len(cs) != 1 || cs[0]["isDefault"] != true || id(cs[0]) == defaultID {
			t.Fatalf("the other tenant has a Default campaign of its own: %v", cs)
		}
		otherCampaign = id(cs[0])
		otherQueue = id(s.call(t, "POST", "/v1/queues", otherKey, map[string]any{"name": "Theirs"}, 201))
		for _, c := range [][3]string{
			{"GET", "/v1/campaigns/" + winterID, ""},
			{"GET", "/v1/campaigns/" + winterID + "/dispositions", ""},
			{"PATCH", "/v1/campaigns/" + winterID, `{"name":"Mine now"}`},
			{"PUT", "/v1/campaigns/" + winterID + "/dispositions", `{"classes":[]}`},
			{"DELETE", "/v1/campaigns/" + winterID, ""},
		} {
			s.wantError(t, c[0], c[1], otherKey, c[2], 404, "not_found", "")
		}
		s.wantError(t, "POST", "/v1/campaigns", otherKey, `{"name":"Theirs","defaultQueueId":"`+salesQueue+`"}`, 422, "invalid_field", "defaultQueueId")
	})

	t.Run("agents log in to a campaign", func(t *testing.T) {
		s.wantError(t, "POST", "/v1/agents/me/session", agentKey, `{"campaign":"Summer"}`, 422, "invalid_field", "campaign")
		s.wantError(t, "POST", "/v1/agents/me/session", agentKey, `{"campaign":"paused"}`, 422, "invalid_field", "campaign")
		s.wantError(t, "POST", "/v1/agents/me/session", agentKey, `{"campaign":"`+otherCampaign+`"}`, 422, "invalid_field", "campaign")
		s.wantError(t, "POST", "/v1/agents/me/session", agentKey, `{"campaign":7}`, 400, "malformed_request", "campaign")
		s.wantError(t, "POST", "/v1/agents/me/heartbeat", agentKey, nil, 409, "not_logged_in", "")

		login := s.call(t, "POST", "/v1/agents/me/session", agentKey, `{"campaign":" WINTER SALE "}`, 201)
		if login["campaign"] != winterID {
			t.Errorf("logged in to campaign %v, want %s", login["campaign"], winterID)
		}
		again := s.call(t, "POST", "/v1/agents/me/session", agentKey, `{"campaign":"`+strings.ToUpper(defaultID)+`"}`, 200)
		if again["resumed"] != true || again["campaign"] != defaultID {
			t.Errorf("resumed in the Default campaign: %v", again)
		}
		if got := s.call(t, "GET", "/v1/agents/me/session", agentKey, nil, 200); got["campaign"] != defaultID {
			t.Errorf("session campaign %v", got["campaign"])
		}
		s.call(t, "DELETE", "/v1/agents/me/session", agentKey, nil, 204)
	})

	t.Run("bad configuration changes nothing", func(t *testing.T) {
		// state is every campaign read the admin has, to compare before and after.
		state := func() string {
			t.Helper()
			var b strings.Builder
			list := s.do("GET", "/v1/campaigns", adminKey, "")
			b.WriteString(string(list.body) + "\n")
			for _, c := range items(list.json(t)) {
				for _, path := range []string{"/v1/campaigns/" + id(c), "/v1/campaigns/" + id(c) + "/dispositions"} {
					r := s.do("GET", path, adminKey, "")
					if r.status != 200 {
						t.Fatalf("GET %s: %d %s", path, r.status, r.body)
					}
					b.WriteString(path + " " + string(r.body) + "\n")
				}
			}
			return b.String()
		}
		tree := s.call(t, "GET", "/v1/campaigns/"+winterID+"/dispositions", adminKey, nil, 200)
		// treeWith is the current tree with one change made by edit, as JSON.
		treeWith := func(edit func(won, noSale map[string]any)) string {
			var copied map[string]any
			b, _ := json.Marshal(tree)
			_ = json.Unmarshal(b, &copied)
			k := classes(copied)
			edit(k[0], k[1])
			copied["classes"] = []any{k[0], k[1]}
			b, _ = json.Marshal(copied)
			return string(b)
		}
		empty := id(s.call(t, "POST", "/v1/campaigns", adminKey, map[string]any{"name": "Empty"}, 201))
		unknown := "00000000-0000-4000-8000-000000000000"
		winter, dispositions := "/v1/campaigns/"+winterID, "/v1/campaigns/"+winterID+"/dispositions"
		before := state()
		cases := []struct {
			name, method, path, body string
			status                   int
			code, field              string
		}{
			{"name missing", "POST", "/v1/campaigns", `{"description":"x"}`, 422, "invalid_field", "name"},
			{"name too long", "POST", "/v1/campaigns", `{"name":"` + strings.Repeat("x", 101) + `"}`, 422, "invalid_field", "name"},
			{"name taken ignoring case", "POST", "/v1/campaigns", `{"name":"winter SALE"}`, 409, "conflict", ""},
			{"wrap-up over an hour", "POST", "/v1/campaigns", `{"name":"X","wrapUpTimeoutSeconds":3601}`, 422, "invalid_field", "wrapUpTimeoutSeconds"},
			{"wrap-up negative", "POST", "/v1/campaigns", `{"name":"X","wrapUpTimeoutSeconds":-1}`, 422, "invalid_field", "wrapUpTimeoutSeconds"},
			{"wrap-up as text", "POST", "/v1/campaigns", `{"name":"X","wrapUpTimeoutSeconds":"60"}`, 400, "malformed_request", "wrapUpTimeoutSeconds"},
			{"caller ID not E.164", "POST", "/v1/campaigns", `{"name":"X","callerId":"0800 123 456"}`, 422, "invalid_field", "callerId"},
			{"unknown default queue", "POST", "/v1/campaigns", `{"name":"X","defaultQueueId":"` + unknown + `"}`, 422, "invalid_field", "defaultQueueId"},
			{"default queue not an ID", "POST", "/v1/campaigns", `{"name":"X","defaultQueueId":"Sales"}`, 422, "invalid_field", "defaultQueueId"},
			{"unknown field", "POST", "/v1/campaigns", `{"name":"X","colour":"red"}`, 422, "invalid_field", "colour"},
			{"trailing data", "POST", "/v1/campaigns", `{"name":"X"}{}`, 400, "malformed_request", ""},
			{"not JSON", "POST", "/v1/campaigns", `name=X`, 400, "malformed_request", ""},

			{"nothing to change", "PATCH", winter, `{}`, 422, "invalid_field", ""},
			{"enabled as text", "PATCH", winter, `{"enabled":"yes"}`, 400, "malformed_request", "enabled"},
			{"renamed to a taken name", "PATCH", winter, `{"name":"default"}`, 409, "conflict", ""},
			{"default code of another campaign", "PATCH", winter, `{"defaultDispositionCodeId":"` + resolvedID + `"}`, 422, "invalid_field", "defaultDispositionCodeId"},
			{"default code cleared", "PATCH", winter, `{"defaultDispositionCodeId":null}`, 422, "invalid_field", "defaultDispositionCodeId"},
			{"default queue of another tenant", "PATCH", winter, `{"defaultQueueId":"` + otherQueue + `"}`, 422, "invalid_field", "defaultQueueId"},
			{"caller ID with letters", "PATCH", winter, `{"callerId":"+44 CALL ME"}`, 422, "invalid_field", "callerId"},
			{"the Default campaign disabled", "PATCH", "/v1/campaigns/" + defaultID, `{"enabled":false}`, 409, "conflict", ""},
			{"the Default campaign deleted", "DELETE", "/v1/campaigns/" + defaultID, "", 409, "conflict", ""},
			{"unknown campaign", "PATCH", "/v1/campaigns/" + unknown, `{"name":"Y"}`, 404, "not_found", ""},

			{"tree without classes", "PUT", dispositions, `{}`, 422, "invalid_field", "classes"},
			{"tree as a list", "PUT", dispositions, `[]`, 400, "malformed_request", ""},
			{"codes as an object", "PUT", dispositions, `{"classes":[{"name":"A","codes":{"name":"B"}}]}`, 400, "malformed_request", "classes.codes"},
			{"unknown field in a code", "PUT", dispositions, `{"classes":[{"name":"A","codes":[{"name":"B","colour":1}]}]}`, 422, "invalid_field", "classes.codes.colour"},
			{"class name empty", "PUT", dispositions, treeWith(func(won, _ map[string]any) { won["name"] = " " }), 422, "invalid_field", "classes[0].name"},
			{"class names equal ignoring case", "PUT", dispositions, treeWith(func(_, noSale map[string]any) { noSale["name"] = "WON" }), 422, "invalid_field", "classes[1].name"},
			{"unknown class ID", "PUT", dispositions, treeWith(func(_, noSale map[string]any) { noSale["id"] = unknown }), 422, "invalid_field", "classes[1].id"},
			{"class ID twice", "PUT", dispositions, treeWith(func(won, noSale map[string]any) { noSale["id"] = won["id"] }), 422, "invalid_field", "classes[1].id"},
			{"code ID of another campaign", "PUT", dispositions, treeWith(func(won, _ map[string]any) { codes(won)[0]["id"] = resolvedID }), 422, "invalid_field", "classes[0].codes[0].id"},
			{"code names equal ignoring case", "PUT", dispositions, treeWith(func(_, noSale map[string]any) {
				noSale["codes"] = append(noSale["codes"].([]any), map[string]any{"name": "voicemail"})
			}), 422, "invalid_field", "classes[1].codes[3].name"},
			{"a callback to a blacklisted number", "PUT", dispositions, treeWith(func(_, noSale map[string]any) { codes(noSale)[1]["callback"] = true }), 422, "invalid_field", "classes[1].codes[1].blacklist"},
			{"two defaults", "PUT", dispositions, treeWith(func(won, _ map[string]any) { codes(won)[0]["default"] = true }), 422, "invalid_field", "classes[1].codes[0].default"},
			{"the default code left out", "PUT", dispositions, treeWith(func(_, noSale map[string]any) {
				noSale["codes"] = []any{codes(noSale)[1], codes(noSale)[2]}
			}), 422, "invalid_field", "classes"},
			{"every class left out", "PUT", dispositions, `{"classes":[]}`, 422, "invalid_field", "classes"},
			{"codes without a default", "PUT", "/v1/campaigns/" + empty + "/dispositions", `{"classes":[{"name":"Sale","codes":[{"name":"Sold"}]}]}`, 422, "invalid_field", "classes"},
			{"the tree of an unknown campaign", "PUT", "/v1/campaigns/" + unknown + "/dispositions", `{"classes":[]}`, 404, "not_found", ""},
			{"a page too large", "GET", "/v1/campaigns?limit=500", "", 422, "invalid_field", "limit"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				s.wantError(t, c.method, c.path, adminKey, c.body, c.status, c.code, c.field)
			})
		}
		if after := state(); after != before {
			t.Errorf("refused configuration changed something:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})

	t.Run("deletes", func(t *testing.T) {
		// The lifecycle records the campaign of an interaction; here the test does,
		// on an interaction waiting in the Default queue.
		ix := s.call(t, "POST", "/v1/interactions", adminKey, `{"channel":"web_chat","from":"visitor-7"}`, 201)
		deadline := time.Now().Add(30 * time.Second)
		for len(items(s.call(t, "GET", "/v1/interactions?status=queued", supKey, nil, 200))) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the interaction never reached the read model")
			}
			time.Sleep(100 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, `UPDATE interactions SET campaign_id = $1 WHERE id = $2`, winterID, id(ix)); err != nil {
			t.Fatal(err)
		}
		r := s.do("DELETE", "/v1/campaigns/"+winterID, adminKey, "")
		if code, _ := r.errorOf(t); r.status != 409 || code != "conflict" || !strings.Contains(string(r.body), "active interactions") {
			t.Errorf("deleting a campaign with a waiting interaction: %d %s", r.status, r.body)
		}
		s.call(t, "GET", "/v1/campaigns/"+winterID, adminKey, nil, 200)
		if ended := s.call(t, "POST", "/v1/interactions/"+id(ix)+"/end", adminKey, `{"reason":"visitor left"}`, 200); ended["status"] != "abandoned" {
			t.Errorf("ended %v", ended)
		}
		s.call(t, "DELETE", "/v1/campaigns/"+winterID, adminKey, nil, 204)
		s.wantError(t, "GET", "/v1/campaigns/"+winterID, adminKey, nil, 404, "not_found", "")
		s.wantError(t, "GET", "/v1/campaigns/"+winterID+"/dispositions", agentKey, nil, 404, "not_found", "")
		s.wantError(t, "POST", "/v1/agents/me/session", agentKey, `{"campaign":"`+winterID+`"}`, 422, "invalid_field", "campaign")
		var kept string
		if err := conn.QueryRow(ctx, `SELECT campaign_id::text FROM interactions WHERE id = $1`, id(ix)).Scan(&kept); err != nil || kept != winterID {
			t.Errorf("the ended interaction keeps its campaign's ID: %q, %v", kept, err)
		}
		var audited int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE object_type = 'campaign' AND object_id = $1`, winterID).Scan(&audited); err != nil ||
			audited != 5 {
			// Created, two trees, one change and the delete: the refused changes wrote none.
			t.Errorf("%d audit rows of the campaign, %v; want 5", audited, err)
		}
	})
}
