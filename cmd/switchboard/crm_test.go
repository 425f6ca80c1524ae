package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
)

// dispositionCodeID finds the ID of a code in a campaign's disposition tree.
func (s *testStack) dispositionCodeID(t *testing.T, key, campaignID, class, code string) string {
	t.Helper()
	tree := s.call(t, "GET", "/v1/campaigns/"+campaignID+"/dispositions", key, nil, 200)
	for _, k := range tree["classes"].([]any) {
		k := k.(map[string]any)
		if k["name"] != class {
			continue
		}
		for _, c := range k["codes"].([]any) {
			if c := c.(map[string]any); c["name"] == code {
				return c["id"].(string)
			}
		}
	}
	t.Fatalf("campaign %s has no code %s/%s: %v", campaignID, class, code, tree)
	return ""
}

// defaultCampaign is the ID of the tenant's Default campaign.
func (s *testStack) defaultCampaign(t *testing.T, key string) string {
	t.Helper()
	for _, c := range s.call(t, "GET", "/v1/campaigns", key, nil, 200)["items"].([]any) {
		if c := c.(map[string]any); c["isDefault"] == true {
			return c["id"].(string)
		}
	}
	t.Fatal("no Default campaign")
	return ""
}

// crmConcurrently sends the same CRM call n times at once and returns the answers.
func (s *testStack) crmConcurrently(t *testing.T, n int, path, key string, body any) []response {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i] = s.do("POST", path, key, string(raw)) })
	}
	wg.Wait()
	return out
}

// historyCount is how many interactions the history search finds.
func (s *testStack) historyCount(t *testing.T, key, query string) int {
	t.Helper()
	return len(s.call(t, "GET", "/v1/history?"+query, key, nil, 200)["items"].([]any))
}

// TestCRMVoiceAPIs drives the CRM voice APIs on the real stack: a manual dial retried
// ten times at once with one requestId starts one call and answers the same to every
// retry; a reused requestId with another body is refused; dispose-and-dial, repeated
// at once, disposes once and dials once; a disposal repeats its first answer; bad
// input is refused with the field named, and changes nothing.
func TestCRMVoiceAPIs(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	_, supKey := s.newUserKey(t, adminKey, "supervisor")
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	boID, boKey := s.newUserKey(t, adminKey, "agent")
	s.setWrapUpTimeout(t, adminKey, 0)
	campaign := s.defaultCampaign(t, adminKey)
	resolved := s.dispositionCodeID(t, crmKey, campaign, "Closed", "Resolved")
	other := s.call(t, "POST", "/v1/campaigns", adminKey, map[string]any{"name": "Renewals"}, 201)["id"].(string)
	s.call(t, "PUT", "/v1/campaigns/"+other+"/dispositions", adminKey, map[string]any{"classes": []any{
		map[string]any{"name": "Sale", "codes": []any{map[string]any{"name": "Renewed", "success": true, "default": true}}},
		map[string]any{"name": "Later", "codes": []any{map[string]any{"name": "Call back", "callback": true}}}}}, 200)
	renewed := s.dispositionCodeID(t, adminKey, other, "Sale", "Renewed")
	callBack := s.dispositionCodeID(t, adminKey, other, "Later", "Call back")
	s.call(t, "POST", "/v1/dnc", adminKey, map[string]any{"phone": "+385 91 555 0666"}, 201)

	dial := func(requestID, phone string) map[string]any {
		return map[string]any{"requestId": requestID, "agentId": anaID, "campaignId": campaign, "phone": phone,
			"additionalParams": map[string]string{"ticket": "T-1"}}
	}
	// Refusals before anything starts: each names its field, and none uses up its
	// requestId.
	for _, c := range []struct {
		body         map[string]any
		status       int
		code, field  string
		key, summary string
	}{
		{map[string]any{"agentId": anaID, "campaignId": campaign, "phone": "+385915550101"}, 422, "invalid_field", "requestId", crmKey, "no requestId"},
		{map[string]any{"requestId": "r-bad", "campaignId": campaign, "phone": "+385915550101"}, 422, "invalid_field", "agentId", crmKey, "no agent"},
		{map[string]any{"requestId": "r-bad", "agentId": anaID, "campaignId": "00000000-0000-4000-8000-000000000000", "phone": "+385915550101"}, 422, "invalid_field", "campaignId", crmKey, "unknown campaign"},
		{map[string]any{"requestId": "r-bad", "agentId": anaID, "campaignId": campaign, "phone": "call me"}, 422, "invalid_field", "phone", crmKey, "malformed phone"},
		{map[string]any{"requestId": "r-bad", "agentId": anaID, "campaignId": campaign, "phone": "+385915550101", "additionalParams": map[string]string{"bad key!": "x"}}, 422, "invalid_field", "additionalParams.bad key!", crmKey, "bad additional parameter"},
		{dial("r-bad", "+385915550101"), 409, "not_logged_in", "", crmKey, "agent logged out"},
		{map[string]any{"requestId": "r-bad", "agentId": boID, "campaignId": campaign, "phone": "+385915550101"}, 403, "forbidden", "", anaKey, "an agent for another"},
	} {
		t.Run(c.summary, func(t *testing.T) {
			s.wantError(t, "POST", "/v1/voice/manual-dial", c.key, c.body, c.status, c.code, c.field)
		})
	}
	if n := s.historyCount(t, supKey, "direction=outbound"); n != 0 {
		t.Fatalf("refused dials left %d interactions", n)
	}

	s.call(t, "POST", "/v1/agents/me/session", anaKey, nil, 201)
	s.heartbeats(t, anaKey)
	// A number on the do-not-call list is refused before anything starts.
	s.wantError(t, "POST", "/v1/voice/manual-dial", crmKey, dial("r-dnc", "+385915550666"), 422, "do_not_call", "phone")

	// Ten retries of one dial at once: one call, the same answer to each.
	answers := s.crmConcurrently(t, 10, "/v1/voice/manual-dial", crmKey, dial("r-dial-1", "+385 (91) 555-0101"))
	var first string
	for i, r := range answers {
		if r.status != 201 {
			t.Fatalf("dial %d: %d %s", i, r.status, r.body)
		}
		v := r.json(t)
		if first == "" {
			first = v["interactionId"].(string)
		}
		if v["interactionId"] != first || v["requestId"] != "r-dial-1" {
			t.Errorf("dial %d answered %v, want interaction %s", i, v, first)
		}
	}
	path := "/v1/interactions/" + first
	call := s.waitFor(t, path, supKey, "the dialled call connected to Ana", func(v map[string]any) bool {
		return v["status"] == "connected" && v["agentId"] == anaID
	})
	if n := s.historyCount(t, supKey, "direction=outbound&agentId="+anaID); n != 1 {
		t.Fatalf("ten retries of one dial made %d interactions", n)
	}
	if call["to"] != "+385915550101" || call["campaignId"] != campaign || call["metadata"].(map[string]any)["ticket"] != "T-1" {
		t.Errorf("dialled call %v", call)
	}
	// A later repeat answers the first answer, marked as a replay; another body with
	// the same requestId is refused.
	r := s.do("POST", "/v1/voice/manual-dial", crmKey, mustJSON(t, dial("r-dial-1", "+385 (91) 555-0101")))
	if r.status != 201 || r.header.Get("Idempotent-Replayed") != "true" || r.json(t)["interactionId"] != first {
		t.Errorf("repeat: %d %v %s", r.status, r.header, r.body)
	}
	s.wantError(t, "POST", "/v1/voice/manual-dial", crmKey, dial("r-dial-1", "+385915550999"), 409, "request_id_reused", "requestId")
	s.wantError(t, "POST", "/v1/voice/dispose", crmKey, map[string]any{"requestId": "r-dial-1", "agentId": anaID, "interactionId": first, "dispositionCodeId": resolved}, 409, "request_id_reused", "requestId")

	// The call ends; disposing it needs a code of its own campaign.
	s.call(t, "POST", path+"/end", anaKey, nil, 200)
	s.waitFor(t, path, supKey, "the call ended", func(v map[string]any) bool { return v["status"] == "ended" })
	disposeBody := func(requestID, code string) map[string]any {
		return map[string]any{"requestId": requestID, "agentId": anaID, "interactionId": first, "dispositionCodeId": code, "notes": "renewal next month"}
	}
	s.wantError(t, "POST", "/v1/voice/dispose", crmKey, disposeBody("r-disp-other", renewed), 422, "invalid_field", "dispositionCodeId")
	s.wantError(t, "POST", "/v1/voice/dispose", crmKey, map[string]any{"requestId": "r-disp-x", "agentId": anaID, "interactionId": first}, 422, "invalid_field", "dispositionCodeId")
	s.wantError(t, "POST", "/v1/voice/dispose", crmKey, map[string]any{"requestId": "r-disp-x", "agentId": boID, "interactionId": first, "dispositionCodeId": resolved}, 403, "not_your_interaction", "")

	// Dispose and dial a listed number: refused before the disposal, which does not
	// happen.
	dnc := map[string]any{"requestId": "r-next-dnc", "agentId": anaID, "interactionId": first, "dispositionCodeId": resolved,
		"campaignId": campaign, "phone": "+385915550666"}
	s.wantError(t, "POST", "/v1/voice/dispose-and-dial", crmKey, dnc, 422, "do_not_call", "phone")
	if v := s.call(t, "GET", path, supKey, nil, 200); v["status"] != "ended" {
		t.Fatalf("a refused dispose-and-dial changed the interaction: %v", v)
	}

	// Dispose and dial the next number, five times at once: one disposal, one new call.
	next := map[string]any{"requestId": "r-next-1", "agentId": anaID, "interactionId": first, "dispositionClass": "Closed", "dispositionCode": "Resolved",
		"notes": "renewal next month", "campaignId": campaign, "phone": "+385915550102"}
	var second string
	for i, r := range s.crmConcurrently(t, 5, "/v1/voice/dispose-and-dial", crmKey, next) {
		if r.status != 201 {
			t.Fatalf("dispose-and-dial %d: %d %s", i, r.status, r.body)
		}
		v := r.json(t)
		disposed, dialed := v["disposed"].(map[string]any), v["dialed"].(map[string]any)
		if second == "" {
			second = dialed["id"].(string)
		}
		if disposed["id"] != first || disposed["status"] != "disposed" || dialed["id"] != second || second == first {
			t.Errorf("dispose-and-dial %d answered %v", i, v)
		}
	}
	detail := s.call(t, "GET", "/v1/history/"+first, supKey, nil, 200)
	if notes := detail["notes"].([]any); len(notes) != 1 || notes[0].(map[string]any)["body"] != "renewal next month" {
		t.Errorf("notes of the disposed call %v", detail["notes"])
	}
	if d := detail["disposition"].(map[string]any); d["codeId"] != resolved {
		t.Errorf("disposition %v", d)
	}
	s.waitFor(t, "/v1/interactions/"+second, supKey, "the next call connected", func(v map[string]any) bool { return v["status"] == "connected" })
	if n := s.historyCount(t, supKey, "direction=outbound&agentId="+anaID); n != 2 {
		t.Fatalf("after dispose-and-dial Ana has %d outbound interactions, want 2", n)
	}
	// Disposing the first call again, by a new request, is refused: it is disposed.
	if r := s.do("POST", "/v1/voice/dispose", crmKey, mustJSON(t, disposeBody("r-disp-again", resolved))); r.status != 409 {
		t.Errorf("a second disposal answered %d %s", r.status, r.body)
	} else if code, _ := r.errorOf(t); code != "interaction_over" && code != "action_not_allowed" {
		t.Errorf("a second disposal answered %s", r.body)
	}

	// The second call: a plain CRM disposal, repeated, answers the same.
	spath := "/v1/interactions/" + second
	s.waitFor(t, spath, supKey, "the next call connected", func(v map[string]any) bool { return v["status"] == "connected" })
	s.call(t, "POST", spath+"/end", anaKey, nil, 200)
	s.waitFor(t, spath, supKey, "the next call ended", func(v map[string]any) bool { return v["status"] == "ended" })
	dispose := map[string]any{"requestId": "r-disp-2", "agentId": anaID, "interactionId": second, "dispositionCodeId": resolved}
	one := s.call(t, "POST", "/v1/voice/dispose", crmKey, dispose, 200)
	two := s.do("POST", "/v1/voice/dispose", crmKey, mustJSON(t, dispose))
	if two.status != 200 || two.header.Get("Idempotent-Replayed") != "true" || fmt.Sprint(two.json(t)) != fmt.Sprint(one) {
		t.Errorf("repeated disposal answered %d %s, first %v", two.status, two.body, one)
	}
	if one["interaction"].(map[string]any)["status"] != "disposed" {
		t.Errorf("disposal answered %v", one)
	}
	// An agent's own key acts for themselves: Ana dials without naming herself, in
	// the Renewals campaign, creating the customer record.
	own := s.call(t, "POST", "/v1/voice/manual-dial", anaKey, map[string]any{"requestId": "r-own", "campaignId": other, "phone": "+385915550103",
		"createCustomer": true, "customerName": "Iva Horvat"}, 201)
	opath := "/v1/interactions/" + own["interactionId"].(string)
	ownCall := s.waitFor(t, opath, supKey, "Ana's own dial connected", func(v map[string]any) bool {
		return v["status"] == "connected" && v["agentId"] == anaID
	})
	customerID, _ := ownCall["customerId"].(string)
	if customerID == "" {
		t.Fatalf("createCustomer linked no customer: %v", ownCall)
	}
	cust := s.call(t, "GET", "/v1/contacts/"+customerID, supKey, nil, 200)
	if cust["name"] != "Iva Horvat" || fmt.Sprint(cust["phones"]) != "[+385915550103]" {
		t.Errorf("created customer %v", cust)
	}
	// Its disposal schedules a callback for Ana and keeps the CRM's parameters.
	s.call(t, "POST", opath+"/end", anaKey, nil, 200)
	s.waitFor(t, opath, supKey, "Ana's own call ended", func(v map[string]any) bool { return v["status"] == "ended" })
	s.wantError(t, "POST", "/v1/voice/dispose", crmKey, map[string]any{"requestId": "r-own-disp", "agentId": anaID, "interactionId": own["interactionId"],
		"dispositionCodeId": callBack}, 422, "invalid_field", "callback.at")
	s.wantError(t, "POST", "/v1/voice/dispose", crmKey, map[string]any{"requestId": "r-own-disp", "agentId": anaID, "interactionId": own["interactionId"],
		"dispositionCodeId": callBack, "dispositionParams": map[string]string{"bad key!": "x"}, "callback": map[string]any{"in": "PT1H"}}, 422, "invalid_field", "dispositionParams.bad key!")
	s.call(t, "POST", "/v1/voice/dispose", crmKey, map[string]any{"requestId": "r-own-disp", "agentId": anaID, "interactionId": own["interactionId"],
		"dispositionCodeId": callBack, "dispositionParams": map[string]string{"plan": "gold"}, "callback": map[string]any{"in": "PT1H", "selfCallback": true}}, 200)
	// The callback's own workflow lists it a moment after the disposal starts it.
	callbacks := s.waitFor(t, "/v1/callbacks?agentId="+anaID, supKey, "the callback listed", func(v map[string]any) bool {
		items, _ := v["items"].([]any)
		return len(items) > 0
	})["items"].([]any)
	if len(callbacks) != 1 || callbacks[0].(map[string]any)["phone"] != "+385915550103" {
		t.Errorf("callbacks after the disposal: %v", callbacks)
	}
	var params any
	for _, e := range s.call(t, "GET", "/v1/history/"+own["interactionId"].(string), supKey, nil, 200)["timeline"].([]any) {
		if e := e.(map[string]any); e["type"] == "interactionDisposed" {
			params = e["data"].(map[string]any)["params"]
		}
	}
	if fmt.Sprint(params) != "map[plan:gold]" {
		t.Errorf("disposal parameters in the timeline: %v", params)
	}
	_ = boKey
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
