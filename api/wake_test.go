package api

import (
	"testing"

	"switchboard/routing"
)

func TestRaisedCapacity(t *testing.T) {
	base := routing.Capacity{routing.Voice: 1, routing.LiveChat: 5, routing.LiveMessaging: 5, routing.Email: 10}
	for _, tc := range []struct {
		name  string
		after routing.Capacity
		want  bool
	}{
		{"same", routing.Capacity{routing.Voice: 1, routing.LiveChat: 5, routing.LiveMessaging: 5, routing.Email: 10}, false},
		{"one channel up", routing.Capacity{routing.Voice: 1, routing.LiveChat: 6, routing.LiveMessaging: 5, routing.Email: 10}, true},
		{"down only", routing.Capacity{routing.Voice: 1, routing.LiveChat: 2, routing.LiveMessaging: 5, routing.Email: 0}, false},
		{"one up, one down", routing.Capacity{routing.Voice: 1, routing.LiveChat: 1, routing.LiveMessaging: 9, routing.Email: 10}, true},
	} {
		if got := raised(base, tc.after); got != tc.want {
			t.Errorf("%s: raised = %v, want %v", tc.name, got, tc.want)
		}
	}
}
