package main

import (
	"testing"
	"time"
)

// TestRecordLifecycleHistories records, with -update-histories, the histories of
// two interactions that go through the lifecycle on a running stack, for the
// replay tests (workflows/testdata):
//
//   - interaction_lifecycle.json: a chat Ana takes, holds and resumes, notes,
//     and transfers to Bo (a handover that rings on him); Bo takes it, puts it on
//     hold, ends it while on hold and disposes it with a code of the campaign,
//     whose wrap-up waits for the agent.
//   - interaction_lifecycle_campaign.json: a chat Ana transfers to a campaign (its
//     default queue), Bo takes it there, the customer leaves and the campaign's
//     wrap-up timeout disposes it.
//   - interaction_lifecycle_call.json: a call Ana takes, holds and resumes and
//     ends; she is idle again after her own wrap-up time, then disposes it.
//
// Without the flag it is skipped: TestLifecycleEndToEnd covers the same API.
func TestRecordLifecycleHistories(t *testing.T) {
	if !*updateHistories {
		t.Skip("records histories only with -update-histories")
	}
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	s.tenantOf(t, adminKey)
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	boID, boKey := s.newUserKey(t, adminKey, "agent")
	s.call(t, "PATCH", "/v1/acd-settings", adminKey, `{"ringTimeoutSeconds":120}`, 200)
	support := s.call(t, "POST", "/v1/queues", adminKey, map[string]any{"name": "Support", "agentIds": []string{boID}}, 201)["id"].(string)
	var defaultCampaign string
	for _, c := range s.call(t, "GET", "/v1/campaigns", adminKey, nil, 200)["items"].([]any) {
		if c := c.(map[string]any); c["isDefault"] == true {
			defaultCampaign = c["id"].(string)
		}
	}
	s.call(t, "PATCH", "/v1/campaigns/"+defaultCampaign, adminKey, `{"wrapUpTimeoutSeconds":0}`, 200)
	renewals := s.call(t, "POST", "/v1/campaigns", adminKey, map[string]any{"name": "Renewals", "wrapUpTimeoutSeconds": 2,
		"defaultQueueId": support}, 201)["id"].(string)
	// Ana is ready; Bo is on a break until the transfer.
	s.call(t, "POST", "/v1/agents/me/session", anaKey, nil, 201)
	s.call(t, "POST", "/v1/agents/me/session", boKey, `{"status":"lunch"}`, 201)
	s.heartbeats(t, anaKey, boKey)
	c := s.temporalClient()

	// take waits for the chat to ring on the agent and accepts it.
	take := func(t *testing.T, path, agentID, key string) {
		t.Helper()
		s.waitFor(t, path, key, "offered", func(v map[string]any) bool { return v["status"] == "offered" && v["offeredAgentId"] == agentID })
		if v := s.call(t, "POST", path+"/accept", key, nil, 200); v["status"] != "connected" {
			t.Fatalf("accepted %v", v)
		}
	}

	t.Run("hold, note, transfer to an agent, dispose", func(t *testing.T) {
		id := s.call(t, "POST", "/v1/interactions", crmKey, `{"channel":"web_chat","from":"visitor-51","content":"Hello?"}`, 201)["id"].(string)
		path := "/v1/interactions/" + id
		take(t, path, anaID, anaKey)
		if v := s.call(t, "POST", path+"/hold", anaKey, nil, 200); v["status"] != "on_hold" {
			t.Errorf("held %v", v)
		}
		time.Sleep(time.Second)
		if v := s.call(t, "POST", path+"/unhold", anaKey, nil, 200); v["status"] != "connected" || v["holdSeconds"] != 1.0 {
			t.Errorf("resumed %v", v)
		}
		if r := s.do("POST", path+"/notes", anaKey, `{"id":"3c1f0e7a-8d2b-4c6e-9a5f-1b2c3d4e5f60","body":"Asks about a refund."}`); r.status != 200 {
			t.Errorf("note: %d %s", r.status, r.body)
		}
		s.call(t, "PUT", "/v1/agents/me/status", boKey, `{"status":"available"}`, 200)
		tr := s.call(t, "POST", path+"/transfer", anaKey, map[string]any{"target": map[string]string{"kind": "agent", "id": boID}, "reason": "refunds"}, 200)
		if tr["status"] != "offered" || tr["offeredAgentId"] != boID || tr["transfers"] != 1.0 {
			t.Fatalf("transferred %v", tr)
		}
		take(t, path, boID, boKey)
		s.call(t, "POST", path+"/hold", boKey, nil, 200)
		if v := s.call(t, "POST", path+"/end", boKey, `{"reason":"solved"}`, 200); v["status"] != "ended" || v["heldAt"] != nil {
			t.Errorf("ended %v", v)
		}
		d := s.call(t, "POST", path+"/dispose", boKey, `{"dispositionClass":"Closed","dispositionCode":"Resolved"}`, 200)
		if d["status"] != "disposed" || d["disposedBy"] != boID {
			t.Errorf("disposed %v", d)
		}
		waitDone(t, c, "interaction/"+id)
		recordHistory(t, c, "interaction/"+id, "interaction_lifecycle.json")
	})

	t.Run("transfer to a campaign, hang-up, automatic disposal", func(t *testing.T) {
		s.call(t, "PUT", "/v1/agents/me/status", boKey, `{"status":"lunch"}`, 200)
		id := s.call(t, "POST", "/v1/interactions", crmKey, `{"channel":"web_chat","from":"visitor-52","content":"Hi"}`, 201)["id"].(string)
		path := "/v1/interactions/" + id
		take(t, path, anaID, anaKey)
		tr := s.call(t, "POST", path+"/transfer", anaKey, map[string]any{"target": map[string]string{"kind": "campaign", "id": renewals}}, 200)
		if tr["status"] != "queued" || tr["queueId"] != support || tr["campaignId"] != renewals {
			t.Fatalf("transferred %v", tr)
		}
		s.call(t, "PUT", "/v1/agents/me/status", boKey, `{"status":"available"}`, 200)
		take(t, path, boID, boKey)
		s.call(t, "POST", path+"/hangup", crmKey, `{"reason":"closed the tab"}`, 202)
		d := s.waitFor(t, path, boKey, "disposed by the campaign's timeout", func(v map[string]any) bool { return v["status"] == "disposed" })
		if disp, _ := d["disposition"].(map[string]any); d["disposedBy"] != nil || (disp != nil && disp["auto"] != true) {
			t.Errorf("disposed %v", d)
		}
		waitDone(t, c, "interaction/"+id)
		recordHistory(t, c, "interaction/"+id, "interaction_lifecycle_campaign.json")
	})

	t.Run("a call held, ended, wrapped up and disposed", func(t *testing.T) {
		s.call(t, "PATCH", "/v1/agents/"+anaID, adminKey, `{"wrapUpSeconds":1}`, 200)
		s.call(t, "PUT", "/v1/agents/me/status", boKey, `{"status":"lunch"}`, 200)
		id := s.call(t, "POST", "/v1/interactions", crmKey, `{"channel":"call","from":"+385 1 555 0153"}`, 201)["id"].(string)
		path := "/v1/interactions/" + id
		take(t, path, anaID, anaKey)
		s.call(t, "POST", path+"/hold", anaKey, nil, 200)
		s.call(t, "POST", path+"/unhold", anaKey, nil, 200)
		s.call(t, "POST", path+"/end", anaKey, nil, 200)
		s.waitFor(t, "/v1/agents/"+anaID+"/session", adminKey, "Ana idle after her wrap-up time", func(v map[string]any) bool {
			return v["voice"] == "" && voiceMs(v, "wrapping") > 0
		})
		if v := s.call(t, "GET", path, anaKey, nil, 200); v["status"] != "ended" {
			t.Errorf("after Ana's wrap-up time %v", v)
		}
		d := s.call(t, "POST", path+"/dispose", anaKey, `{"dispositionClass":"Closed","dispositionCode":"Resolved"}`, 200)
		if d["status"] != "disposed" || d["disposedBy"] != anaID {
			t.Errorf("disposed %v", d)
		}
		waitDone(t, c, "interaction/"+id)
		recordHistory(t, c, "interaction/"+id, "interaction_lifecycle_call.json")
	})
}
