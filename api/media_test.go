package api_test

import (
	"strings"
	"testing"

	"switchboard/pgstore"
)

// Admins set agents' SIP extensions and the numbers calls come in on; the password
// never comes back, bad input names its field, and other tenants see nothing.
func TestMediaAPI(t *testing.T) {
	x := newDNCAPI(t)
	path := "/v1/agents/" + x.agentID + "/sip"
	for _, key := range []string{x.sup, x.agent, x.integ} {
		x.wantError(t, "PUT", path, key, "", map[string]string{"extension": "1001", "password": "a-long-password"}, 403, "forbidden", "")
	}
	x.wantError(t, "GET", path, x.admin, "", nil, 404, "not_found", "")
	x.wantError(t, "PUT", path, x.admin, "", map[string]string{"extension": "10 01", "password": "a-long-password"}, 422, "invalid_field", "extension")
	x.wantError(t, "PUT", path, x.admin, "", map[string]string{"extension": "1001", "password": "short"}, 422, "invalid_field", "password")
	x.wantError(t, "PUT", "/v1/agents/"+x.supID+"/sip", x.admin, "", map[string]string{"extension": "1001", "password": "a-long-password"}, 404, "not_found", "")

	body := x.do(t, "PUT", path, x.admin, "", map[string]string{"extension": "1001", "password": "a-long-password"}, 200)
	if strings.Contains(string(body), "a-long-password") || strings.Contains(string(body), "ha1") {
		t.Fatalf("the answer carries the secret: %s", body)
	}
	got := decodeJSON[pgstore.SIPCredential](t, body)
	if got.Extension != "1001" || got.AgentID != x.agentID || got.Realm == "" {
		t.Fatalf("credential = %+v", got)
	}
	// The agent reads their own, through "me" too; a supervisor reads anyone's.
	for _, key := range []string{x.agent, x.sup} {
		if c := decodeJSON[pgstore.SIPCredential](t, x.do(t, "GET", path, key, "", nil, 200)); c.Extension != "1001" {
			t.Errorf("GET = %+v", c)
		}
	}
	x.do(t, "GET", "/v1/agents/me/sip", x.agent, "", nil, 200)
	x.wantError(t, "GET", "/v1/agents/"+x.supID+"/sip", x.agent, "", nil, 403, "forbidden", "")
	x.wantError(t, "GET", path, x.theirAdmin, "", nil, 404, "not_found", "")

	// Numbers: one tenant's each.
	x.wantError(t, "POST", "/v1/voice/numbers", x.admin, "", map[string]string{"number": "call me"}, 422, "invalid_field", "number")
	x.wantError(t, "POST", "/v1/voice/numbers", x.admin, "", map[string]string{"number": "+15550007777", "campaignId": "nope"}, 422, "invalid_field", "campaignId")
	x.wantError(t, "POST", "/v1/voice/numbers", x.sup, "", map[string]string{"number": "+15550007777"}, 403, "forbidden", "")
	n := decodeJSON[pgstore.VoiceNumber](t, x.do(t, "POST", "/v1/voice/numbers", x.admin, "", map[string]string{"number": "+1 555 000 7777", "name": "Support"}, 201))
	if n.Number != "+15550007777" || n.Name != "Support" {
		t.Fatalf("number = %+v", n)
	}
	x.do(t, "POST", "/v1/voice/numbers", x.admin, "", map[string]string{"number": "+15550007777", "name": "Sales"}, 200)
	x.wantError(t, "POST", "/v1/voice/numbers", x.theirAdmin, "", map[string]string{"number": "+15550007777"}, 409, "conflict", "")
	list := decodeJSON[struct{ Items []pgstore.VoiceNumber }](t, x.do(t, "GET", "/v1/voice/numbers", x.sup, "", nil, 200))
	if len(list.Items) != 1 || list.Items[0].Name != "Sales" {
		t.Fatalf("list = %+v", list)
	}
	x.wantError(t, "DELETE", "/v1/voice/numbers/%2B15550007777", x.theirAdmin, "", nil, 404, "not_found", "")
	x.do(t, "DELETE", "/v1/voice/numbers/%2B15550007777", x.admin, "", nil, 204)
	x.do(t, "DELETE", path, x.admin, "", nil, 204)
	x.wantError(t, "GET", path, x.admin, "", nil, 404, "not_found", "")
}
