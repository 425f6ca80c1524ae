package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"switchboard/workflows"
)

// heartbeats keeps the agents' desktops beating until the test ends.
func (s *testStack) heartbeats(t *testing.T, keys ...string) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
			for _, k := range keys {
				_, _ = s.try("POST", "/v1/agents/me/heartbeat", k, nil)
			}
		}
	})
}

// waitDone waits until the workflow completed.
func waitDone(t *testing.T, c client.Client, workflowID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		desc, err := c.DescribeWorkflowExecution(ctx, workflowID, "")
		if err == nil && desc.WorkflowExecutionInfo.Status == enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s did not complete: %v %v", workflowID, desc, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// findRun waits until the visibility query finds exactly the workflow.
func findRun(t *testing.T, c client.Client, query, workflowID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		list, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: query})
		if err == nil && len(list.Executions) == 1 && list.Executions[0].Execution.WorkflowId == workflowID {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("run %s not found by %s: %v %v", workflowID, query, list, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestInteractionACD drives the rest of the ACD through the HTTP API on a running
// stack: a call's voice sub-states as the agent's presence and session totals show
// them (ringing, in a call, wrapping for the agent's own wrap-up time, idle again),
// and queue changes that keep the agent or unassign them and offer the interaction
// to a member of the new queue, with their refusals.
func TestInteractionACD(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	tenant := s.tenantOf(t, adminKey)
	_, supKey := s.newUserKey(t, adminKey, "supervisor")
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	boID, boKey := s.newUserKey(t, adminKey, "agent")
	cyID, cyKey := s.newUserKey(t, adminKey, "agent")
	s.call(t, "PATCH", "/v1/acd-settings", supKey, `{"ringTimeoutSeconds":60,"wrapUpSeconds":120}`, 200)
	// Ana wraps up for two seconds, her own setting over the tenant's two minutes.
	s.call(t, "PATCH", "/v1/agents/"+anaID, supKey, `{"wrapUpSeconds":2}`, 200)
	// The campaign disposes ended interactions with its default code after 5 s.
	s.setWrapUpTimeout(t, adminKey, 5)
	sales := s.call(t, "POST", "/v1/queues", supKey, map[string]any{"name": "Sales", "agentIds": []string{anaID, boID}}, 201)["id"].(string)
	billing := s.call(t, "POST", "/v1/queues", supKey, map[string]any{"name": "Billing", "agentIds": []string{cyID}}, 201)["id"].(string)
	defaultQueue := s.call(t, "GET", "/v1/queues", supKey, nil, 200)["items"].([]any)[0].(map[string]any)["id"].(string)
	s.call(t, "POST", "/v1/agents/me/session", anaKey, nil, 201)
	s.heartbeats(t, anaKey, boKey, cyKey)
	c := s.temporalClient()
	anaSession := "/v1/agents/" + anaID + "/session"

	t.Run("a call rings, is talked and wrapped up", func(t *testing.T) {
		created := s.call(t, "POST", "/v1/interactions", crmKey, `{"channel":"call","from":"+385 1 555 0101"}`, 201)
		id := created["id"].(string)
		path := "/v1/interactions/" + id
		s.waitFor(t, path, supKey, "offered to Ana", func(v map[string]any) bool { return v["status"] == "offered" && v["offeredAgentId"] == anaID })
		s.waitFor(t, anaSession, supKey, "Ana ringing", func(v map[string]any) bool { return v["voice"] == "ringing" })
		s.call(t, "POST", path+"/accept", anaKey, nil, 200)
		s.waitFor(t, anaSession, supKey, "Ana in a call", func(v map[string]any) bool {
			return v["voice"] == "in_call" && voiceMs(v, "in_call") > 0
		})
		ended := s.call(t, "POST", path+"/end", anaKey, `{"reason":"solved"}`, 200)
		if ended["status"] != "ended" {
			t.Errorf("ended %v", ended)
		}
		s.waitFor(t, anaSession, supKey, "Ana wrapping up", func(v map[string]any) bool { return v["voice"] == "wrapping" })
		st := interactionState(t, c, id)
		if st.WrapUpUntil == nil || st.EndedAt == nil || st.WrapUpUntil.Sub(*st.EndedAt) != 5*time.Second {
			t.Errorf("wrap-up until %v after the end at %v, want the campaign's 5 s", st.WrapUpUntil, st.EndedAt)
		}
		// During the wrap-up the call is over: it moves nowhere.
		s.wantError(t, "POST", path+"/queue", supKey, map[string]string{"queueId": sales}, 409, "interaction_over", "")
		idle := s.waitFor(t, anaSession, supKey, "Ana idle again", func(v map[string]any) bool {
			return v["voice"] == "" && voiceMs(v, "wrapping") > 0
		})
		tot := idle["totals"].(map[string]any)
		if voiceMs(idle, "ringing") <= 0 || tot["talkMs"].(float64) != voiceMs(idle, "in_call") || tot["idleMs"].(float64) <= 0 {
			t.Errorf("totals %v", tot)
		}
		waitDone(t, c, "interaction/"+id)
		if *updateHistories {
			recordHistory(t, c, "interaction/"+id, "interaction_call_wrap_up.json")
		}
	})

	t.Run("queue change keeps a member agent", func(t *testing.T) {
		created := s.call(t, "POST", "/v1/interactions", crmKey, `{"channel":"web_chat","from":"visitor-7"}`, 201)
		id := created["id"].(string)
		path := "/v1/interactions/" + id
		s.waitFor(t, path, supKey, "offered to Ana", func(v map[string]any) bool { return v["status"] == "offered" && v["offeredAgentId"] == anaID })
		s.wantError(t, "POST", path+"/queue", anaKey, map[string]string{"queueId": sales}, 403, "not_your_interaction", "")
		s.call(t, "POST", path+"/accept", anaKey, nil, 200)

		s.wantError(t, "POST", path+"/queue", supKey, map[string]string{"queueId": "00000000-0000-4000-8000-000000000000"}, 422, "invalid_field", "queueId")
		s.wantError(t, "POST", path+"/queue", supKey, map[string]string{"queueId": "sales"}, 422, "invalid_field", "queueId")
		s.wantError(t, "POST", path+"/queue", supKey, `{}`, 422, "invalid_field", "queueId")
		s.wantError(t, "POST", path+"/queue", supKey, `{"queueId":7}`, 400, "malformed_request", "queueId")
		s.wantError(t, "POST", path+"/queue", crmKey, map[string]string{"queueId": sales}, 403, "forbidden", "")
		s.wantError(t, "POST", path+"/queue", boKey, map[string]string{"queueId": sales}, 403, "not_your_interaction", "")
		s.wantError(t, "POST", "/v1/interactions/00000000-0000-4000-8000-000000000000/queue", supKey, map[string]string{"queueId": sales}, 404, "not_found", "")
		if v := s.call(t, "GET", path, supKey, nil, 200); v["queueId"] != defaultQueue || v["version"] != 2.0 {
			t.Errorf("refused changes changed %v", v)
		}

		moved := s.call(t, "POST", path+"/queue", anaKey, map[string]string{"queueId": sales}, 200)
		if moved["status"] != "connected" || moved["agentId"] != anaID || moved["queueId"] != sales {
			t.Errorf("moved %v", moved)
		}
		s.waitFor(t, path, supKey, "in Sales in the read model", func(v map[string]any) bool {
			return v["queueId"] == sales && v["status"] == "connected" && v["agentId"] == anaID
		})
		findRun(t, c, fmt.Sprintf("InteractionId = %q AND QueueId = %q AND AgentId = %q", id, sales, anaID), "interaction/"+id)
		s.call(t, "POST", path+"/end", anaKey, nil, 200)
		s.wantError(t, "POST", path+"/queue", supKey, map[string]string{"queueId": billing}, 409, "interaction_over", "")
	})

	t.Run("queue change unassigns and offers to a member of the new queue", func(t *testing.T) {
		created := s.call(t, "POST", "/v1/interactions", crmKey, `{"channel":"whatsapp","from":"+385 91 555 0102"}`, 201)
		id := created["id"].(string)
		path := "/v1/interactions/" + id
		s.waitFor(t, path, supKey, "offered to Ana", func(v map[string]any) bool { return v["status"] == "offered" && v["offeredAgentId"] == anaID })
		s.call(t, "POST", path+"/accept", anaKey, nil, 200)
		s.call(t, "POST", "/v1/agents/me/session", cyKey, nil, 201)

		moved := s.call(t, "POST", path+"/queue", supKey, map[string]string{"queueId": billing}, 200)
		if moved["queueId"] != billing || moved["agentId"] != nil || !slices.Equal(moved["excludedAgents"].([]any), []any{anaID}) ||
			(moved["status"] != "queued" && moved["status"] != "offered") {
			t.Errorf("moved %v", moved)
		}
		s.wantError(t, "POST", path+"/end", anaKey, nil, 403, "not_your_interaction", "")
		s.waitFor(t, path, supKey, "offered to Cy", func(v map[string]any) bool { return v["status"] == "offered" && v["offeredAgentId"] == cyID })
		s.call(t, "POST", path+"/accept", cyKey, nil, 200)
		detail := s.waitFor(t, path, supKey, "connected to Cy", func(v map[string]any) bool { return v["status"] == "connected" && v["agentId"] == cyID })
		offers := detail["offers"].([]any)
		if len(offers) != 2 || offers[0].(map[string]any)["agentId"] != anaID || offers[0].(map[string]any)["outcome"] != "accepted" ||
			offers[1].(map[string]any)["agentId"] != cyID || offers[1].(map[string]any)["outcome"] != "accepted" {
			t.Errorf("offers %v", offers)
		}
		// Ana's slot is free: she may log out.
		if mine := s.call(t, "GET", "/v1/interactions?status=connected", anaKey, nil, 200)["items"].([]any); len(mine) != 0 {
			t.Errorf("Ana still holds %v", mine)
		}
		findRun(t, c, fmt.Sprintf("InteractionId = %q AND TenantId = %q AND QueueId = %q AND AgentId = %q", id, tenant, billing, cyID), "interaction/"+id)
		s.call(t, "POST", path+"/end", cyKey, nil, 200)
		waitDone(t, c, "interaction/"+id)
		if *updateHistories {
			recordHistory(t, c, "interaction/"+id, "interaction_queue_change.json")
		}
		s.call(t, "DELETE", "/v1/agents/me/session", anaKey, nil, 204)
		s.call(t, "DELETE", "/v1/agents/me/session", cyKey, nil, 204)
	})

	t.Run("a call moved while ringing on a non-member", func(t *testing.T) {
		s.call(t, "POST", "/v1/agents/me/session", boKey, nil, 201)
		created := s.call(t, "POST", "/v1/interactions", crmKey, `{"channel":"call","from":"+385 1 555 0103"}`, 201)
		id := created["id"].(string)
		path := "/v1/interactions/" + id
		s.waitFor(t, path, supKey, "offered to Bo", func(v map[string]any) bool { return v["status"] == "offered" && v["offeredAgentId"] == boID })
		s.waitFor(t, "/v1/agents/"+boID+"/session", supKey, "Bo ringing", func(v map[string]any) bool { return v["voice"] == "ringing" })
		s.call(t, "POST", "/v1/agents/me/session", cyKey, nil, 201)
		s.call(t, "POST", path+"/queue", supKey, map[string]string{"queueId": billing}, 200)
		s.waitFor(t, path, supKey, "offered to Cy", func(v map[string]any) bool { return v["status"] == "offered" && v["offeredAgentId"] == cyID })
		s.waitFor(t, "/v1/agents/"+boID+"/session", supKey, "Bo idle again", func(v map[string]any) bool { return v["voice"] == "" })
		s.wantError(t, "POST", path+"/accept", boKey, nil, 403, "not_your_offer", "")
		s.call(t, "POST", path+"/end", crmKey, `{"reason":"caller hung up"}`, 200)
		s.waitFor(t, "/v1/agents/"+cyID+"/session", supKey, "Cy idle again", func(v map[string]any) bool { return v["voice"] == "" })
		detail := s.call(t, "GET", path, supKey, nil, 200)
		if detail["status"] != "abandoned" || len(detail["excludedAgents"].([]any)) != 0 {
			t.Errorf("after the end %v", detail)
		}
		if o := detail["offers"].([]any); len(o) != 2 || o[0].(map[string]any)["outcome"] != "released" || o[1].(map[string]any)["outcome"] != "released" {
			t.Errorf("offers %v", o)
		}
	})
}

func voiceMs(session map[string]any, state string) float64 {
	tot, _ := session["totals"].(map[string]any)
	ms, _ := tot["voiceMs"].(map[string]any)
	v, _ := ms[state].(float64)
	return v
}

// interactionState asks the interaction's workflow for its state.
func interactionState(t *testing.T, c client.Client, id string) workflows.InteractionState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := c.QueryWorkflow(ctx, workflows.InteractionWorkflowID(id), "", workflows.InteractionQuery)
	var st workflows.InteractionState
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		t.Fatal(err)
	}
	return st
}
