package main

import (
	"encoding/csv"
	"fmt"
	"mime"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// exportCSV downloads a completed export and answers its rows by column name, with
// the response.
func (s *testStack) exportCSV(t *testing.T, key, id string) ([]map[string]string, response) {
	t.Helper()
	r := s.do("GET", "/v1/exports/"+id+"/download", key, "")
	if r.status != 200 {
		t.Fatalf("download %s: %d %s", id, r.status, r.body)
	}
	recs, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("download %s is not CSV with a header (%v): %s", id, err, r.body)
	}
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, v := range rec {
			row[recs[0][i]] = v
		}
		rows = append(rows, row)
	}
	return rows, r
}

// waitExport polls an export until it is over and requires it completed.
func (s *testStack) waitExport(t *testing.T, key, id string) map[string]any {
	t.Helper()
	ex := s.waitFor(t, "/v1/exports/"+id, key, "export "+id, func(v map[string]any) bool {
		return v["status"] == "completed" || v["status"] == "failed"
	})
	if ex["status"] != "completed" || ex["downloadUrl"] != "/v1/exports/"+id+"/download" {
		t.Fatalf("export %s: %v", id, ex)
	}
	return ex
}

func idsOf(rows []map[string]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r["interactionId"])
	}
	return out
}

// TestInteractionExport drives exports of the interaction history end to end: a
// supervisor's filtered export is produced in the background, polled until
// completed and downloaded as CSV holding exactly the interactions of the filter,
// newest first, with values that would start a spreadsheet formula defused; an
// agent's export holds only their own history; nobody sees another's export (an
// agent) or another tenant's; refused filters name the field.
func TestInteractionExport(t *testing.T) {
	t.Parallel()
	s := newTestStack(t)
	s.start()
	defer s.stop()
	adminKey := keyPattern.FindString(s.out.String())
	tenant := s.tenantOf(t, adminKey)
	_, supKey := s.newUserKey(t, adminKey, "supervisor")
	_, crmKey := s.newUserKey(t, adminKey, "integration")
	anaID, anaKey := s.newUserKey(t, adminKey, "agent")
	boID, _ := s.newUserKey(t, adminKey, "agent")
	renewals := s.call(t, "POST", "/v1/campaigns", adminKey, `{"name":"Renewals"}`, 201)["id"].(string)

	// Ana is on a break, so nothing is offered to her: her history is only what
	// she starts herself.
	s.call(t, "POST", "/v1/agents/me/session", anaKey, `{"status":"lunch"}`, 201)
	s.heartbeats(t, anaKey)
	create := func(key string, body map[string]any) string {
		t.Helper()
		return s.call(t, "POST", "/v1/interactions", key, body, 201)["id"].(string)
	}
	formula := `=cmd|' /C calc'!A0`
	chat1 := create(crmKey, map[string]any{"channel": "web_chat", "from": "visitor-1", "campaignId": renewals, "customer": map[string]any{"name": formula}})
	chat2 := create(crmKey, map[string]any{"channel": "web_chat", "from": "visitor-2", "campaignId": renewals,
		"customer": map[string]any{"name": `Smith, "Jr"`, "phone": "+385 91 555 0100"}})
	call := create(crmKey, map[string]any{"channel": "call", "from": "+385 1 555 0101", "campaignId": renewals})
	email := create(crmKey, map[string]any{"channel": "email", "from": "iva@example.com"})
	own := create(anaKey, map[string]any{"channel": "whatsapp", "direction": "outbound", "to": "+385 91 555 0102"})
	// The history has them once their workflows wrote them.
	s.waitFor(t, "/v1/history", supKey, "five interactions in the history", func(v map[string]any) bool {
		return len(v["items"].([]any)) == 5
	})

	t.Run("refusals", func(t *testing.T) {
		const path = "/v1/exports"
		s.wantError(t, "POST", path, supKey, `{"channel":"fax"}`, 422, "invalid_field", "channel")
		s.wantError(t, "POST", path, supKey, `{"from":"yesterday"}`, 422, "invalid_field", "from")
		s.wantError(t, "POST", path, supKey, `{"queueId":"sales"}`, 422, "invalid_field", "queueId")
		s.wantError(t, "POST", path, supKey, `{"from":"2026-11-02","to":"2026-11-01"}`, 422, "invalid_field", "to")
		s.wantError(t, "POST", path, supKey, `{"shape":"round"}`, 422, "invalid_field", "shape")
		s.wantError(t, "POST", path, anaKey, map[string]any{"agentId": boID}, 403, "forbidden", "")
		s.wantError(t, "POST", path, crmKey, `{}`, 403, "forbidden", "")
		s.wantError(t, "POST", path, "", `{}`, 401, "unauthenticated", "")
		if got := s.call(t, "GET", path, supKey, nil, 200)["items"].([]any); len(got) != 0 {
			t.Errorf("refused requests left exports behind: %v", got)
		}
	})

	// The supervisor's chats of the campaign.
	r := s.do("POST", "/v1/exports", supKey, fmt.Sprintf(`{"campaignId":%q,"channel":"live_chat","to":"2099-01-01"}`, renewals))
	if r.status != 202 {
		t.Fatalf("request the export: %d %s", r.status, r.body)
	}
	created := r.json(t)
	supExport := created["id"].(string)
	if created["status"] != "queued" || r.header.Get("Location") != "/v1/exports/"+supExport ||
		created["filter"].(map[string]any)["campaignId"] != renewals {
		t.Errorf("requested %v (Location %q)", created, r.header.Get("Location"))
	}
	done := s.waitExport(t, supKey, supExport)
	if done["rowCount"] != 2.0 || done["expiresAt"] == nil || done["sizeBytes"] == nil {
		t.Errorf("completed %v", done)
	}
	rows, dl := s.exportCSV(t, supKey, supExport)
	if ct := dl.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	disp, params, err := mime.ParseMediaType(dl.header.Get("Content-Disposition"))
	if err != nil || disp != "attachment" || !strings.HasPrefix(params["filename"], "interactions-") || !strings.HasSuffix(params["filename"], ".csv") {
		t.Errorf("Content-Disposition %q", dl.header.Get("Content-Disposition"))
	}
	if got := idsOf(rows); !slices.Equal(got, []string{chat2, chat1}) {
		t.Fatalf("rows %v, want chat 2 then chat 1 (not the call %s, the e-mail %s or Ana's chat %s)", got, call, email, own)
	}
	for _, row := range rows {
		if row["campaignId"] != renewals || row["campaign"] != "Renewals" || row["channel"] != "live_chat" || row["source"] != "web_chat" ||
			row["status"] != "queued" || row["queue"] != "Default" || row["direction"] != "inbound" {
			t.Errorf("row %v", row)
		}
	}
	if rows[1]["customerName"] != "'"+formula || rows[0]["customerName"] != `Smith, "Jr"` || rows[0]["customerPhone"] != "'+385 91 555 0100" {
		t.Errorf("customer names %q and %q, phone %q", rows[1]["customerName"], rows[0]["customerName"], rows[0]["customerPhone"])
	}
	files, _ := filepath.Glob(filepath.Join(s.dataDir, "exports", tenant, supExport+".*"))
	if len(files) != 1 || !strings.HasSuffix(files[0], ".csv") {
		t.Errorf("the export's files under the data directory: %v", files)
	}
	if raw, err := os.ReadFile(files[0]); err != nil || string(raw) != string(dl.body) {
		t.Errorf("the download is not the file (%v)", err)
	}

	// Ana's export holds her own history only, whatever she filters on.
	anaExport := s.call(t, "POST", "/v1/exports", anaKey, nil, 202)["id"].(string)
	s.waitExport(t, anaKey, anaExport)
	if rows, _ := s.exportCSV(t, anaKey, anaExport); !slices.Equal(idsOf(rows), []string{own}) || rows[0]["agentId"] != anaID ||
		rows[0]["direction"] != "outbound" {
		t.Errorf("Ana's export: %v", rows)
	}
	meExport := s.call(t, "POST", "/v1/exports", anaKey, `{"agentId":"me","campaignId":"`+renewals+`"}`, 202)["id"].(string)
	s.waitExport(t, anaKey, meExport)
	if rows, _ := s.exportCSV(t, anaKey, meExport); len(rows) != 0 {
		t.Errorf("Ana's export of the campaign: %v", idsOf(rows))
	}

	t.Run("who sees which export", func(t *testing.T) {
		// Ana sees her own exports only; the supervisor sees all three.
		for _, path := range []string{"/v1/exports/" + supExport, "/v1/exports/" + supExport + "/download"} {
			s.wantError(t, "GET", path, anaKey, nil, 404, "not_found", "")
		}
		var mine []string
		for _, e := range s.call(t, "GET", "/v1/exports", anaKey, nil, 200)["items"].([]any) {
			mine = append(mine, e.(map[string]any)["id"].(string))
		}
		if !slices.Equal(mine, []string{meExport, anaExport}) {
			t.Errorf("Ana's list %v", mine)
		}
		all := s.call(t, "GET", "/v1/exports?limit=2", supKey, nil, 200)
		if items := all["items"].([]any); len(items) != 2 || all["nextAfter"] != anaExport {
			t.Errorf("the supervisor's first page %v", all)
		}
		if r := s.do("GET", "/v1/exports/"+anaExport+"/download", supKey, ""); r.status != 200 {
			t.Errorf("the supervisor downloading Ana's export: %d %s", r.status, r.body)
		}
		s.wantError(t, "GET", "/v1/exports/not-an-id", supKey, nil, 404, "not_found", "")

		// Another tenant's admin and agent find nothing.
		b := s.call(t, "POST", "/v1/tenants", adminKey, `{"slug":"exports-b","name":"B","admin":{"email":"boss@b.test","name":"Boss"}}`, 201)
		keyB := b["apiKey"].(map[string]any)["secret"].(string)
		_, agentB := s.newUserKey(t, keyB, "agent")
		for _, key := range []string{keyB, agentB} {
			for _, path := range []string{"/v1/exports/" + supExport, "/v1/exports/" + supExport + "/download",
				"/v1/exports/" + anaExport + "/download"} {
				s.wantError(t, "GET", path, key, nil, 404, "not_found", "")
			}
			if items := s.call(t, "GET", "/v1/exports", key, nil, 200)["items"].([]any); len(items) != 0 {
				t.Errorf("tenant B lists %v", items)
			}
		}
	})
}
