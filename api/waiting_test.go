package api_test

import (
	"net/http"
	"testing"

	"switchboard/api"
	"switchboard/pgstore"
)

func TestWaitingStrategyAPI(t *testing.T) {
	t.Parallel()
	x := newDNCAPI(t)
	sender := decodeJSON[pgstore.ChannelSenderSecret](t, x.do(t, http.MethodPost, "/v1/channel-senders", x.admin, "",
		map[string]any{"subChannel": "whatsapp", "address": "+385 1 600 0000", "kind": "test"}, http.StatusCreated))
	path := "/v1/channel-senders/" + sender.ID + "/waiting-strategy"

	x.wantError(t, http.MethodGet, path, x.sup, "", nil, http.StatusNotFound, api.CodeNotFound, "")
	body := map[string]any{"welcomeEnabled": true, "welcomeMessage": "Hello!", "announcementEnabled": true,
		"announcementMessage": "Still looking.", "announcementIntervalMinutes": 1, "announcementCount": 60,
		"maxWaitEnabled": true, "maxWaitMessage": "Try again tomorrow.", "maxWaitMinutes": 45}
	put := decodeJSON[pgstore.WaitingStrategy](t, x.do(t, http.MethodPut, path, x.admin, "", body, http.StatusOK))
	if put.SenderID != sender.ID || put.AnnouncementCount != 60 || put.MaxWaitMinutes != 45 || put.WelcomeMessage != "Hello!" {
		t.Errorf("put %+v", put)
	}
	got := decodeJSON[pgstore.WaitingStrategy](t, x.do(t, http.MethodGet, path, x.sup, "", nil, http.StatusOK))
	if got.WaitingStrategySettings != put.WaitingStrategySettings {
		t.Errorf("read %+v, want %+v", got, put)
	}

	// Supervisors read, admins write; agents and other tenants see nothing.
	x.wantError(t, http.MethodPut, path, x.sup, "", body, http.StatusForbidden, api.CodeForbidden, "")
	x.wantError(t, http.MethodGet, path, x.agent, "", nil, http.StatusForbidden, api.CodeForbidden, "")
	x.wantError(t, http.MethodGet, path, x.theirAdmin, "", nil, http.StatusNotFound, api.CodeNotFound, "")
	x.wantError(t, http.MethodPut, path, x.theirAdmin, "", body, http.StatusNotFound, api.CodeNotFound, "")
	x.wantError(t, http.MethodPut, "/v1/channel-senders/not-a-sender/waiting-strategy", x.admin, "", body, http.StatusNotFound, api.CodeNotFound, "")

	for _, tc := range []struct {
		name  string
		mod   map[string]any
		field string
	}{
		{"an interval under a minute", map[string]any{"announcementIntervalMinutes": 0}, "announcementIntervalMinutes"},
		{"more than 60 announcements", map[string]any{"announcementCount": 100}, "announcementCount"},
		{"announcements past the hour", map[string]any{"announcementIntervalMinutes": 5, "announcementCount": 13}, "announcementCount"},
		{"a maximum wait over an hour", map[string]any{"maxWaitMinutes": 61}, "maxWaitMinutes"},
		{"nothing enabled", map[string]any{"welcomeEnabled": false, "announcementEnabled": false, "maxWaitEnabled": false}, "welcomeEnabled"},
		{"an enabled message without text", map[string]any{"maxWaitMessage": " "}, "maxWaitMessage"},
	} {
		b := map[string]any{}
		for k, v := range body {
			b[k] = v
		}
		for k, v := range tc.mod {
			b[k] = v
		}
		t.Run(tc.name, func(t *testing.T) {
			x.wantError(t, http.MethodPut, path, x.admin, "", b, http.StatusUnprocessableEntity, api.CodeInvalid, tc.field)
		})
	}
	x.wantError(t, http.MethodPut, path, x.admin, "", map[string]any{"welcomeEnabled": "yes"}, http.StatusBadRequest, api.CodeMalformed, "welcomeEnabled")
	// A refused change leaves the strategy as it was.
	if again := decodeJSON[pgstore.WaitingStrategy](t, x.do(t, http.MethodGet, path, x.admin, "", nil, http.StatusOK)); again.WaitingStrategySettings != put.WaitingStrategySettings {
		t.Errorf("after refusals %+v", again)
	}

	x.wantError(t, http.MethodDelete, path, x.sup, "", nil, http.StatusForbidden, api.CodeForbidden, "")
	x.do(t, http.MethodDelete, path, x.admin, "", nil, http.StatusNoContent)
	x.wantError(t, http.MethodDelete, path, x.admin, "", nil, http.StatusNotFound, api.CodeNotFound, "")
	x.wantError(t, http.MethodGet, path, x.sup, "", nil, http.StatusNotFound, api.CodeNotFound, "")
}
