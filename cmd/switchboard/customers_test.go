package main

import (
	"context"
	"net/url"
	"testing"
	"time"

	"switchboard/pgstore"
	"switchboard/workflows"
)

// TestCustomer360AndJourney drives Customer 360 and the journey on a running stack: a
// customer created on first contact, the lookup by a phone two customers share, a
// customer linked to and unlinked from an interaction through the interaction's
// workflow, past interactions, dispositions and notes on the customer, and a journey
// backfill over earlier interactions (one still waiting, linked through its
// workflow) with its progress in the API and in Temporal.
func TestCustomer360AndJourney(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	s.tenantOf(t, adminKey)
	_, supKey := s.newUserKey(t, adminKey, "supervisor")
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	_, boKey := s.newUserKey(t, adminKey, "agent")
	s.setWrapUpTimeout(t, adminKey, 0)
	hangup := func(id string) {
		t.Helper()
		s.waitFor(t, "/v1/interactions/"+id, supKey, "queued", func(v map[string]any) bool { return v["status"] == "queued" })
		if r := s.do("POST", "/v1/interactions/"+id+"/hangup", crmKey, ""); r.status/100 != 2 {
			t.Fatalf("hangup %s: %d %s", id, r.status, r.body)
		}
		s.waitFor(t, "/v1/interactions/"+id, supKey, "abandoned", func(v map[string]any) bool { return v["status"] == "abandoned" })
	}

	// Chats from before the journey had identifiers: linked to nobody.
	var early []string
	for _, acct := range []string{"ACC-1", "ACC-1", "ACC-2"} {
		v := s.call(t, "POST", "/v1/interactions", crmKey, map[string]any{"channel": "web_chat", "from": "visitor-" + acct,
			"metadata": map[string]string{"accountNumber": acct}}, 201)
		if v["customerId"] != nil {
			t.Fatalf("linked before the journey: %v", v)
		}
		early = append(early, v["id"].(string))
	}
	hangup(early[0])
	hangup(early[1])
	// early[2] keeps waiting: the backfill links it through its workflow.

	// Settings: managers only, validated.
	s.wantError(t, "PUT", "/v1/journey", anaKey, `{"createOnFirstContact":true}`, 403, "forbidden", "")
	s.wantError(t, "PUT", "/v1/journey", supKey, `{"identifiers":["account number"]}`, 422, "invalid_field", "identifiers[0]")
	if v := s.call(t, "PUT", "/v1/journey", supKey, `{"createOnFirstContact":true}`, 200); v["createOnFirstContact"] != true {
		t.Fatalf("journey %v", v)
	}

	// First contact from an unknown number creates the customer and links it.
	first := s.call(t, "POST", "/v1/interactions", crmKey, map[string]any{"channel": "whatsapp", "from": "+385 91 700 0001",
		"customer": map[string]string{"name": "Mia Horvat"}, "metadata": map[string]string{"intent": "Billing"}}, 201)
	mia, _ := first["customerId"].(string)
	if mia == "" {
		t.Fatalf("no customer linked on first contact: %v", first)
	}
	c := s.call(t, "GET", "/v1/contacts/"+mia, anaKey, nil, 200)
	if c["name"] != "Mia Horvat" || len(c["phones"].([]any)) != 1 || c["phones"].([]any)[0] != "+385917000001" {
		t.Errorf("customer created on first contact: %v", c)
	}
	s.waitFor(t, "/v1/interactions/"+first["id"].(string), supKey, "the read model has the link", func(v map[string]any) bool {
		return v["customerId"] == mia
	})
	again := s.call(t, "POST", "/v1/interactions", crmKey, map[string]any{"channel": "whatsapp", "from": "+385917000001"}, 201)
	if again["customerId"] != mia {
		t.Errorf("the second contact is the same customer: %v", again["customerId"])
	}
	hangup(first["id"].(string))
	hangup(again["id"].(string))

	// A second customer shares the number: the lookup answers both, and a new
	// contact from it is left for the agent to pick.
	s.wantError(t, "POST", "/v1/contacts", anaKey, `{"name":"X"}`, 403, "forbidden", "")
	ivo := s.call(t, "POST", "/v1/contacts", crmKey, map[string]any{"name": "Ivo Horvat", "externalId": "crm-77",
		"phones": []string{"+385 (91) 700-0001"}, "emails": []string{"Ivo@Example.com"}}, 201)["id"].(string)
	s.wantError(t, "POST", "/v1/contacts", crmKey, `{"externalId":"crm-77"}`, 409, "conflict", "")
	s.wantError(t, "POST", "/v1/contacts", crmKey, `{"name":"Y","emails":["not-an-address"]}`, 422, "invalid_field", "emails[0]")
	found := s.call(t, "GET", "/v1/contacts?phone="+url.QueryEscape("+385 91 700 0001"), anaKey, nil, 200)["items"].([]any)
	if len(found) != 2 || found[0].(map[string]any)["id"] != ivo || found[1].(map[string]any)["id"] != mia {
		t.Errorf("lookup by a shared phone: %v", found)
	}
	if byEmail := s.call(t, "GET", "/v1/contacts?email=ivo@example.com", anaKey, nil, 200)["items"].([]any); len(byEmail) != 1 {
		t.Errorf("search by e-mail: %v", byEmail)
	}
	s.wantError(t, "GET", "/v1/contacts?phone=abc", anaKey, nil, 422, "invalid_field", "phone")
	shared := s.call(t, "POST", "/v1/interactions", crmKey, map[string]any{"channel": "whatsapp", "from": "+385917000001"}, 201)
	if shared["customerId"] != nil {
		t.Errorf("a number two customers share picked one: %v", shared["customerId"])
	}
	hangup(shared["id"].(string))

	// Ana links Mia to her own chat through the interaction, by external ID first.
	s.call(t, "POST", "/v1/agents/me/session", anaKey, `{"status":"lunch"}`, 201)
	s.heartbeats(t, anaKey)
	chat := s.call(t, "POST", "/v1/interactions", anaKey, map[string]any{"channel": "whatsapp", "direction": "outbound",
		"to": "+385 91 700 0001", "metadata": map[string]string{"intent": "Card upgrade"}}, 201)
	path := "/v1/interactions/" + chat["id"].(string)
	s.waitFor(t, path, supKey, "the chat connected to Ana", func(v map[string]any) bool { return v["status"] == "connected" })
	if v := s.call(t, "PUT", path+"/customer", anaKey, `{"customerId":"crm-77"}`, 200); v["customerId"] != ivo {
		t.Errorf("linked by external ID: %v", v["customerId"])
	}
	s.wantError(t, "PUT", path+"/customer", anaKey, `{"customerId":"nobody"}`, 422, "invalid_field", "customerId")
	s.wantError(t, "PUT", path+"/customer", boKey, map[string]string{"customerId": mia}, 403, "not_your_interaction", "")
	if v := s.call(t, "DELETE", path+"/customer", anaKey, nil, 200); v["customerId"] != nil {
		t.Errorf("unlinked: %v", v["customerId"])
	}
	if v := s.call(t, "PUT", path+"/customer", anaKey, map[string]string{"customerId": mia}, 200); v["customerId"] != mia {
		t.Errorf("linked: %v", v["customerId"])
	}
	s.call(t, "POST", path+"/notes", anaKey, `{"body":"wants the gold card"}`, 200)
	s.call(t, "POST", path+"/end", anaKey, nil, 200)
	s.call(t, "POST", path+"/dispose", anaKey, `{"dispositionClass":"Closed","dispositionCode":"Resolved","notes":"upgrade sent"}`, 200)
	s.waitFor(t, path, supKey, "the chat disposed", func(v map[string]any) bool { return v["status"] == "disposed" })

	// Mia's 360: her interactions newest first, grouped by intent, her dispositions,
	// and notes on her.
	hist := s.call(t, "GET", "/v1/contacts/"+mia+"/interactions", anaKey, nil, 200)
	items := hist["items"].([]any)
	if len(items) != 3 || items[0].(map[string]any)["id"] != chat["id"] || items[2].(map[string]any)["id"] != first["id"] {
		t.Fatalf("Mia's interactions: %v", hist)
	}
	// Its notes: the one Ana wrote and the disposal's.
	if top := items[0].(map[string]any); top["intent"] != "Card upgrade" || len(top["notes"].([]any)) != 2 {
		t.Errorf("latest interaction: %v", top)
	}
	if groups := hist["intents"].([]any); len(groups) != 2 || groups[0].(map[string]any)["intent"] != "Card upgrade" ||
		groups[1].(map[string]any)["intent"] != "Billing" {
		t.Errorf("intent groups: %v", groups)
	}
	ds := s.call(t, "GET", "/v1/contacts/"+mia+"/dispositions", anaKey, nil, 200)["items"].([]any)
	if len(ds) != 1 || ds[0].(map[string]any)["code"] != "Resolved" || ds[0].(map[string]any)["notes"] != "upgrade sent" ||
		ds[0].(map[string]any)["interactionId"] != chat["id"] {
		t.Errorf("Mia's dispositions: %v", ds)
	}
	note := s.call(t, "POST", "/v1/contacts/"+mia+"/notes", anaKey, `{"body":"prefers WhatsApp"}`, 201)
	if note["authorId"] != anaID || note["authorName"] != "agent" {
		t.Errorf("note: %v", note)
	}
	if notes := s.call(t, "GET", "/v1/contacts/"+mia+"/notes", supKey, nil, 200)["items"].([]any); len(notes) != 1 {
		t.Errorf("notes: %v", notes)
	}
	s.wantError(t, "DELETE", "/v1/contacts/"+mia, anaKey, nil, 403, "forbidden", "")

	// The journey gets an identifier; a backfill links the earlier chats.
	s.wantError(t, "POST", "/v1/journey/backfills", supKey, nil, 422, "invalid_field", "identifiers")
	s.call(t, "PUT", "/v1/journey", supKey, `{"identifiers":["accountNumber"]}`, 200)
	bf := s.call(t, "POST", "/v1/journey/backfills", supKey, nil, 201)
	id := bf["id"].(string)
	if r := s.do("POST", "/v1/journey/backfills", supKey, ""); r.status == 200 {
		if r.json(t)["id"] != id {
			t.Errorf("a second start while one runs answers another backfill: %s", r.body)
		}
	} else if r.status != 201 || s.call(t, "GET", "/v1/journey/backfills/"+id, supKey, nil, 200)["status"] != "completed" {
		t.Errorf("a second start answered %d %s while the first was not completed", r.status, r.body)
	}
	done := s.waitFor(t, "/v1/journey/backfills/"+id, supKey, "the backfill completed", func(v map[string]any) bool {
		return v["status"] == "completed"
	})
	total := done["total"].(float64)
	if total != 7 || done["processed"] != total || done["linked"] != 3.0 || done["customersCreated"] != 2.0 || done["done"] != true ||
		done["lastPosition"] == nil {
		t.Errorf("backfill progress: %v", done)
	}
	acc1 := s.call(t, "GET", "/v1/interactions/"+early[0], supKey, nil, 200)["customerId"]
	if acc1 == nil || s.call(t, "GET", "/v1/interactions/"+early[1], supKey, nil, 200)["customerId"] != acc1 {
		t.Errorf("the ACC-1 chats are one customer's: %v", acc1)
	}
	live := s.waitFor(t, "/v1/interactions/"+early[2], supKey, "the waiting chat linked", func(v map[string]any) bool {
		return v["customerId"] != nil
	})
	if live["status"] != "queued" || live["customerId"] == acc1 {
		t.Errorf("the waiting ACC-2 chat: %v", live)
	}
	// The engineer's view: the run's query and memo carry the same progress.
	tc := s.temporalClient()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, err := tc.QueryWorkflow(ctx, workflows.JourneyBackfillWorkflowID(id), "", workflows.JourneyProgressQuery)
	var progress pgstore.JourneyProgress
	if err == nil {
		err = q.Get(&progress)
	}
	if err != nil || progress.Processed != int64(total) || progress.Linked != 3 || !progress.Done {
		t.Errorf("progress query: %+v %v", progress, err)
	}
	desc, err := tc.DescribeWorkflowExecution(ctx, workflows.JourneyBackfillWorkflowID(id), "")
	if err != nil || desc.WorkflowExecutionInfo.GetMemo().GetFields()[workflows.JourneyProgressMemo] == nil {
		t.Errorf("progress memo: %v %v", desc, err)
	}

	// From now on a new chat carrying the identifier is linked at its creation.
	next := s.call(t, "POST", "/v1/interactions", crmKey, map[string]any{"channel": "web_chat", "from": "visitor-new",
		"metadata": map[string]string{"accountNumber": "ACC-1"}}, 201)
	if next["customerId"] != acc1 {
		t.Errorf("new chat of ACC-1: %v, want %v", next["customerId"], acc1)
	}
	hangup(next["id"].(string))
	hangup(early[2])
	s.call(t, "DELETE", "/v1/agents/me/session", anaKey, nil, 204)
}
