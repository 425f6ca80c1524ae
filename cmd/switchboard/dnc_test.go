package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// upload sends a file as the body of a do-not-call upload with its content type.
func (s *testStack) upload(t *testing.T, key, contentType, file string) response {
	t.Helper()
	req, err := http.NewRequest("POST", s.httpURL+"/v1/dnc/uploads", strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", contentType)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// TestDoNotCall drives the do-not-call list and the internal phonebook on the real
// stack: a listed number is refused on the outbound dial path with do_not_call on
// "to" and nothing starts; an upload lists its good lines and reports the others by
// line number; disposing a call with a blacklist code lists its number, so the next
// dial to it is refused; a conference and a transfer name an internal contact and
// dial its number.
func TestDoNotCall(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	s.tenantOf(t, adminKey)
	_, supKey := s.newUserKey(t, adminKey, "supervisor")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	campaign := s.call(t, "POST", "/v1/campaigns", adminKey, map[string]any{"name": "Outreach", "wrapUpTimeoutSeconds": 0}, 201)["id"].(string)
	s.call(t, "PUT", "/v1/campaigns/"+campaign+"/dispositions", adminKey, `{"classes":[
		{"name":"Closed","codes":[{"name":"Resolved","success":true,"default":true},{"name":"Do not call","blacklist":true}]}]}`, 200)
	s.call(t, "POST", "/v1/agents/me/session", anaKey, nil, 201)
	s.heartbeats(t, anaKey)
	dial := func(to string) map[string]any {
		return map[string]any{"channel": "call", "direction": "outbound", "to": to, "campaignId": campaign}
	}
	countHistory := func() float64 {
		return float64(len(s.call(t, "GET", "/v1/interactions?agentId="+anaID, supKey, nil, 200)["items"].([]any)))
	}

	// A listed number is refused before anything starts, in whatever form it is dialed.
	s.call(t, "POST", "/v1/dnc", supKey, map[string]string{"phone": "+385 91 555 0199", "reason": "asked on the phone"}, 201)
	s.wantError(t, "POST", "/v1/interactions", anaKey, dial("+385 (91) 555-0199"), 422, "do_not_call", "to")
	if n := countHistory(); n != 0 {
		t.Errorf("%v interactions after a refused dial", n)
	}

	// An upload with bad lines: the good ones listed, the others reported by line.
	r := s.upload(t, supKey, "text/csv", "phone,name\n+385 91 555 0201,Ana\n+385 91 555 O202,letter O\n+385 91 555 0199,listed\n+385.91.555.0201,again\n")
	if r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	res := r.json(t)
	if res["added"] != float64(1) || res["invalid"] != float64(1) || res["alreadyListed"] != float64(1) || res["duplicates"] != float64(1) {
		t.Errorf("upload result %v", res)
	}
	var lines []string
	for _, p := range res["problems"].([]any) {
		p := p.(map[string]any)
		lines = append(lines, p["problem"].(string))
		if want := map[string]float64{"invalid": 3, "listed": 4, "duplicate": 5}[p["problem"].(string)]; p["line"] != want {
			t.Errorf("problem %v: want line %v", p, want)
		}
	}
	if len(lines) != 3 {
		t.Errorf("problems %v", lines)
	}
	if r := s.upload(t, supKey, "text/plain", "+385 91 555 0301\n\"+385 91 555 0302\n"); r.status != 422 {
		t.Errorf("broken quoting: %d %s", r.status, r.body)
	}
	if c := s.call(t, "GET", "/v1/dnc/check?phone="+url.QueryEscape("+385915550301"), anaKey, nil, 200); c["listed"] != false {
		t.Errorf("a line of a refused file is listed: %v", c)
	}

	// A call disposed with the blacklist code lists its number; the next dial is refused.
	call := s.call(t, "POST", "/v1/interactions", anaKey, dial("+385 91 555 0142"), 201)
	path := "/v1/interactions/" + call["id"].(string)
	s.waitFor(t, path, anaKey, "the call connected", func(v map[string]any) bool { return v["status"] == "connected" })
	s.call(t, "POST", path+"/end", anaKey, nil, 200)
	s.call(t, "POST", path+"/dispose", anaKey, `{"dispositionClass":"Closed","dispositionCode":"Do not call"}`, 200)
	s.waitFor(t, path, anaKey, "the call disposed", func(v map[string]any) bool { return v["status"] == "disposed" })
	check := s.call(t, "GET", "/v1/dnc/check?phone="+url.QueryEscape("+385 91 555 0142"), supKey, nil, 200)
	entry, _ := check["entry"].(map[string]any)
	if check["listed"] != true || entry["addedBy"] != anaID || entry["source"] != "disposition" || !strings.Contains(entry["reason"].(string), call["id"].(string)) {
		t.Errorf("after the blacklist disposition: %v", check)
	}
	s.wantError(t, "POST", "/v1/interactions", anaKey, dial("+385915550142"), 422, "do_not_call", "to")

	// Deleting the number makes it callable again.
	s.call(t, "DELETE", "/v1/dnc/"+url.PathEscape("+385915550142"), supKey, nil, 204)

	// A conference with an internal contact and a transfer to one dial its number.
	billing := s.call(t, "POST", "/v1/internal-contacts", supKey, map[string]string{"name": "Billing desk", "phone": "+385 1 600 7000"}, 201)
	escalations := s.call(t, "POST", "/v1/internal-contacts", supKey, map[string]string{"name": "Escalations", "phone": "+385 1 600 7100"}, 201)
	call = s.call(t, "POST", "/v1/interactions", anaKey, dial("+385 91 555 0142"), 201)
	path = "/v1/interactions/" + call["id"].(string)
	s.waitFor(t, path, anaKey, "the second call connected", func(v map[string]any) bool { return v["status"] == "connected" })
	conf := s.call(t, "POST", path+"/conference", anaKey, map[string]string{"contactId": escalations["id"].(string)}, 200)
	if ps, _ := conf["participants"].([]any); len(ps) != 1 || ps[0].(map[string]any)["number"] != "+38516007100" {
		t.Errorf("conference with a contact: participants %v", conf["participants"])
	}
	s.call(t, "POST", path+"/conference/leave", anaKey, map[string]string{"contactId": escalations["id"].(string)}, 200)
	s.wantError(t, "POST", path+"/transfer", anaKey, map[string]any{"target": map[string]string{"contactId": campaign}}, 422, "invalid_field", "target.contactId")
	s.call(t, "POST", path+"/transfer", anaKey, map[string]any{"target": map[string]string{"contactId": billing["id"].(string)}}, 200)
	ended := s.waitFor(t, path, anaKey, "the call transferred out", func(v map[string]any) bool { return v["status"] == "ended" })
	if ended["endReason"] != "transferred to +38516007000" || ended["transferred"] != true {
		t.Errorf("transferred call %v", ended)
	}
	s.call(t, "POST", path+"/dispose", anaKey, `{"dispositionClass":"Closed","dispositionCode":"Resolved"}`, 200)
	s.waitFor(t, path, anaKey, "the transferred call disposed", func(v map[string]any) bool { return v["status"] == "disposed" })
	s.call(t, "DELETE", "/v1/agents/me/session", anaKey, nil, 204)
}
