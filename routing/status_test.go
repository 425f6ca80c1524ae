package routing_test

import (
	"strings"
	"testing"

	"switchboard/routing"
)

func TestStatusGroups(t *testing.T) {
	tests := []struct {
		g                  routing.StatusGroup
		valid, nw, transfr bool
	}{
		{routing.GroupAvailable, true, true, true},
		{routing.GroupBusy, true, false, true},
		{routing.GroupAway, true, false, true},
		{routing.GroupUnavailable, true, false, false},
		{"lunch", false, false, false},
		{"", false, false, false},
	}
	for _, tt := range tests {
		if tt.g.Valid() != tt.valid || tt.g.ReceivesNew() != tt.nw || tt.g.ReceivesTransfers() != tt.transfr {
			t.Errorf("%q: valid/new/transfers = %v/%v/%v, want %v/%v/%v", tt.g,
				tt.g.Valid(), tt.g.ReceivesNew(), tt.g.ReceivesTransfers(), tt.valid, tt.nw, tt.transfr)
		}
	}
}

func TestDefaultStatuses(t *testing.T) {
	groups := map[routing.StatusGroup]bool{}
	for _, s := range routing.DefaultStatuses() {
		if !s.System {
			t.Errorf("%s not marked system", s.Name)
		}
		groups[s.Group] = true
	}
	if len(groups) != 4 {
		t.Fatalf("default statuses cover %d groups, want 4", len(groups))
	}
	for _, b := range routing.DefaultBreakReasons() {
		if b.Group != routing.GroupAway || b.Validate() != nil {
			t.Errorf("break reason %+v is not a valid Away status", b)
		}
	}
}

func TestNewStatusCatalog(t *testing.T) {
	away := routing.GroupAway
	tests := []struct {
		name   string
		custom []routing.Status
		field  string
	}{
		{"breaks and custom ok", append(routing.DefaultBreakReasons(), routing.Status{Name: "Coaching", Group: routing.GroupBusy}), ""},
		{"missing name", []routing.Status{{Name: "Lunch", Group: away}, {Group: away}}, "statuses[1].name"},
		{"blank name", []routing.Status{{Name: "   ", Group: away}}, "statuses[0].name"},
		{"padded name", []routing.Status{{Name: " Lunch", Group: away}}, "statuses[0].name"},
		{"name too long", []routing.Status{{Name: strings.Repeat("x", routing.MaxStatusNameLength+1), Group: away}}, "statuses[0].name"},
		{"missing group", []routing.Status{{Name: "Lunch"}}, "statuses[0].group"},
		{"unknown group", []routing.Status{{Name: "Lunch", Group: "break"}}, "statuses[0].group"},
		{"custom cannot claim system", []routing.Status{{Name: "Lunch", Group: away, System: true}}, "statuses[0].system"},
		{"clash with default ignoring case", []routing.Status{{Name: "available", Group: routing.GroupBusy}}, "statuses[0].name"},
		{"clash between custom ignoring case", []routing.Status{{Name: "Lunch", Group: away}, {Name: "LUNCH", Group: away}}, "statuses[1].name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat, err := routing.NewStatusCatalog(tt.custom)
			wantField(t, err, tt.field)
			if err == nil && len(cat) != len(routing.DefaultStatuses())+len(tt.custom) {
				t.Fatalf("catalog has %d statuses", len(cat))
			}
		})
	}
}

func TestStatusCatalogFind(t *testing.T) {
	cat, err := routing.NewStatusCatalog(routing.DefaultBreakReasons())
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := cat.Find("lunch"); !ok || s.Name != "Lunch" || s.Group != routing.GroupAway {
		t.Fatalf("Find(lunch) = %+v, %v", s, ok)
	}
	if s, ok := cat.Find("OFFLINE"); !ok || s.Group != routing.GroupUnavailable {
		t.Fatalf("Find(OFFLINE) = %+v, %v", s, ok)
	}
	if _, ok := cat.Find("Gym"); ok {
		t.Fatal("found a status that does not exist")
	}
}

func TestVoiceState(t *testing.T) {
	tests := []struct {
		v               routing.VoiceState
		valid, occupies bool
	}{
		{routing.VoiceIdle, true, false},
		{routing.VoiceRinging, true, false}, // its reservation is the slot
		{routing.VoiceInCall, true, true},
		{routing.VoiceWrapping, true, false},
		{"on_hold", false, false},
	}
	for _, tt := range tests {
		if tt.v.Valid() != tt.valid || tt.v.OccupiesVoice() != tt.occupies {
			t.Errorf("%q: valid=%v occupies=%v", tt.v, tt.v.Valid(), tt.v.OccupiesVoice())
		}
	}
}
