package dispatch_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/routing"
)

// The candidates a decision reads from presence's ready index are exactly the
// Available-group agents among those a full read of presence gives (every online
// agent's snapshot), with the same settings and live state, so routing picks the
// same agent with the same score line from either: agents on a break, busy,
// logged out, lapsed or outside the queue change nothing but the count.
func TestCandidatesMatchAFullRead(t *testing.T) {
	for _, cached := range []bool{false, true} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			c := newCenter(t)
			if cached {
				c.d.AgentsTTL = time.Minute
			}
			outsider := c.agent("outsider", 3) // no queue yet: not a member
			c.newQueue(pgstore.NewQueue{Name: "Chat"})
			skill, err := store.CreateSkill(c.ctx, c.tenant, pgstore.Actor{}, pgstore.NewSkill{Name: "es"})
			if err != nil {
				t.Fatal(err)
			}
			var agents []string
			for i := range 14 {
				a := c.agent(fmt.Sprintf("a%02d", i), 1+i%4)
				agents = append(agents, a)
				if i%3 == 0 {
					if _, err := store.UpdateAgent(c.ctx, c.tenant, pgstore.Actor{}, a, pgstore.AgentUpdate{SkillIDs: &[]string{skill.ID},
						Capacity: &routing.Capacity{routing.LiveChat: 1 + i%4, routing.LiveMessaging: 3, routing.Email: 5}}); err != nil {
						t.Fatal(err)
					}
				}
			}
			agents = append(agents, outsider)
			// Loads: held and ringing chats and messages, a lapsed reservation.
			for i, a := range agents[:10] {
				for j := range i % 3 {
					ix := fmt.Sprintf("held-%d-%d", i, j)
					ch := []routing.Channel{routing.LiveChat, routing.LiveMessaging}[j%2]
					if ok, err := c.ps.Reserve(c.ctx, c.tenant, a, ix, ch, 5, time.Minute); err != nil || !ok {
						t.Fatal(ok, err)
					}
					if j == 0 {
						if ok, err := c.ps.Confirm(c.ctx, c.tenant, a, ix); err != nil || !ok {
							t.Fatal(ok, err)
						}
						time.Sleep(2 * time.Millisecond) // distinct last-assigned times
					}
				}
			}
			if ok, err := c.ps.Reserve(c.ctx, c.tenant, agents[11], "lapsing", routing.LiveChat, 5, 5*time.Millisecond); err != nil || !ok {
				t.Fatal(ok, err)
			}
			// Not ready: a break, busy, logged out, a lapsed heartbeat; one ringing on voice.
			if _, err := c.ps.SetStatus(c.ctx, c.tenant, agents[1], routing.Status{Name: "Lunch", Group: routing.GroupAway}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ps.SetStatus(c.ctx, c.tenant, agents[4], routing.Status{Name: routing.StatusBusy, Group: routing.GroupBusy}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ps.ForceLogout(c.ctx, c.tenant, agents[7]); err != nil {
				t.Fatal(err)
			}
			short, err := presence.New(rdb, presence.Options{Prefix: c.psPrefix, HeartbeatTTL: 5 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := short.Login(c.ctx, c.tenant, agents[13], presence.LoginInput{}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ps.SetVoiceState(c.ctx, c.tenant, agents[12], routing.VoiceRinging); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)

			q, err := store.GetAssignmentQueue(c.ctx, c.tenant, c.queue)
			if err != nil {
				t.Fatal(err)
			}
			excluded := []string{agents[2], agents[9]}
			got, err := c.d.Candidates(c.ctx, c.tenant, q, excluded)
			if err != nil {
				t.Fatal(err)
			}
			full := fullRead(t, c, q, excluded)
			var want []routing.Candidate
			for _, f := range full {
				if f.Status.Group == routing.GroupAvailable {
					want = append(want, f)
				}
			}
			byID := func(a, b routing.Candidate) int { return cmpString(a.AgentID, b.AgentID) }
			slices.SortFunc(got, byID)
			slices.SortFunc(want, byID)
			if len(got) != len(want) || len(want) != 10 {
				t.Fatalf("%d candidates, want %d (of %d online): %v", len(got), len(want), len(full), ids(got))
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.AgentID != w.AgentID || g.Status.Group != w.Status.Group || !slices.Equal(g.Queues, w.Queues) || !slices.Equal(g.Skills, w.Skills) ||
					!sameMap(g.Capacity, w.Capacity) || !sameMap(g.Occupancy, w.Occupancy) || !g.LastAssignedAt.Equal(w.LastAssignedAt) ||
					g.PreviouslyAssigned != w.PreviouslyAssigned {
					t.Errorf("candidate %+v, a full read gives %+v", g, w)
				}
			}
			now := time.Now()
			for _, req := range []routing.Request{
				{Channel: routing.LiveChat, QueueID: c.queue},
				{Channel: routing.LiveMessaging, QueueID: c.queue},
				{Channel: routing.Email, QueueID: c.queue, RequiredSkills: []string{skill.ID}},
				{Channel: routing.Voice, QueueID: c.queue},
				{Channel: routing.LiveChat, QueueID: c.queue, StickyWindow: routing.StickyEver, LastAgentID: agents[5], LastContactAt: now.Add(-time.Hour)},
				{Channel: routing.LiveChat, QueueID: c.queue, StickyWindow: routing.StickyEver, LastAgentID: agents[1], LastContactAt: now.Add(-time.Hour)},
			} {
				winner, scores, ok := routing.Choose(req, full, now)
				eligible := 0
				for _, s := range scores {
					if s.Eligible {
						eligible++
					}
				}
				best, n, bestOK := routing.Best(req, got, now)
				if bestOK != ok || n != eligible || (ok && (best.AgentID != winner || best != scores[0])) {
					t.Errorf("%s: from the ready index %+v (%d eligible, %v); from a full read %+v (%d eligible, %v)",
						req.Channel, best, n, bestOK, scores[0], eligible, ok)
				}
			}
		})
	}
}

// fullRead is how candidates were read before the ready index: every online
// agent, their settings from PostgreSQL and their snapshot from Redis.
func fullRead(t *testing.T, c *center, q pgstore.AssignmentQueue, excluded []string) []routing.Candidate {
	t.Helper()
	online, err := c.ps.Online(c.ctx, c.tenant)
	if err != nil {
		t.Fatal(err)
	}
	static, err := store.AssignmentAgents(c.ctx, c.tenant, q, online)
	if err != nil {
		t.Fatal(err)
	}
	agentIDs := make([]string, len(static))
	for i, s := range static {
		agentIDs[i] = s.AgentID
	}
	live, err := c.ps.Snapshot(c.ctx, c.tenant, agentIDs)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]routing.Candidate, len(static))
	for i, s := range static {
		out[i] = live[i].Candidate(s)
		out[i].PreviouslyAssigned = slices.Contains(excluded, s.AgentID)
	}
	return out
}

func ids(cs []routing.Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.AgentID
	}
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sameMap compares capacities or occupancies, a missing channel counting as 0.
func sameMap[M ~map[routing.Channel]int](a, b M) bool {
	for _, ch := range routing.Channels() {
		if a[ch] != b[ch] {
			return false
		}
	}
	return true
}
