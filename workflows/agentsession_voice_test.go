package workflows_test

import (
	"testing"
	"time"

	"switchboard/activities"
	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/workflows"
)

// Calls report voice changes dated by the presence clock; one that arrives after a
// later change (two calls overlapping) is stale and changes nothing. A presence
// check that found a call ringing with no slot under it, and put the agent back to
// idle, is applied too.
func TestAgentSessionVoiceChanges(t *testing.T) {
	s := newSession(t)
	const sid = 1_700_000_000_000
	s.login(0, sid, available)
	s.voice(10*time.Second, routing.VoiceRinging)
	s.voice(15*time.Second, routing.VoiceInCall)
	s.signal(20*time.Second, workflows.AgentVoiceSignal, func(time.Time) any {
		// The other call's change, made before the call was taken, arriving late.
		return workflows.AgentVoiceChange{State: routing.VoiceIdle, At: s.at(12 * time.Second)}
	})
	s.voice(75*time.Second, routing.VoiceWrapping)
	s.voice(105*time.Second, routing.VoiceIdle)
	s.voice(120*time.Second, routing.VoiceRinging)
	// The call's run is held up; presence is found ringing without a slot at the
	// next check (every 30 s), 150 s in, and the agent put back to idle at 140 s.
	s.verdict = func(now time.Time, in activities.PresenceCheck) activities.PresenceVerdict {
		if now.Sub(s.start) == 150*time.Second {
			return activities.PresenceVerdict{Voice: &activities.VoiceChange{Session: sid, State: routing.VoiceIdle, At: s.at(140 * time.Second)}}
		}
		return activities.PresenceVerdict{}
	}
	s.logout(3*time.Minute, sid, pgstore.LogoutByAgent, agentID)
	got := s.run(input())

	tot := got.Sheet.Totals
	if tot.VoiceMs[routing.VoiceRinging] != ms(5*time.Second+20*time.Second) || tot.VoiceMs[routing.VoiceInCall] != ms(60*time.Second) ||
		tot.TalkMs != ms(60*time.Second) || tot.VoiceMs[routing.VoiceWrapping] != ms(30*time.Second) ||
		tot.IdleMs != ms(10*time.Second+15*time.Second+40*time.Second) {
		t.Errorf("totals %+v", tot)
	}
	evs := s.wantEvents(pgstore.SessionLogin, pgstore.SessionVoice, pgstore.SessionVoice, pgstore.SessionVoice, pgstore.SessionVoice,
		pgstore.SessionVoice, pgstore.SessionVoice, pgstore.SessionLogout)
	if last := evs[6]; last.Voice != routing.VoiceIdle || !last.At.Equal(s.at(140*time.Second)) {
		t.Errorf("the cleared ringing %+v", last)
	}
}
