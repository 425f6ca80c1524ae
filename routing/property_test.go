package routing_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"switchboard/routing"
)

// randomCandidates draws a candidate set that mixes every eligibility
// outcome, duplicate IDs, never-assigned agents and exact ties.
func randomCandidates(r *rand.Rand, n int) []routing.Candidate {
	groups := []routing.StatusGroup{routing.GroupAvailable, routing.GroupAvailable, routing.GroupAvailable, routing.GroupBusy, routing.GroupAway, routing.GroupUnavailable}
	queues := []string{"sales", "billing", "support"}
	skills := []string{"es", "en", "de"}
	out := make([]routing.Candidate, n)
	for i := range out {
		c := routing.Candidate{
			AgentID: fmt.Sprintf("agent-%03d", r.IntN(n*2)), // collisions on purpose
			Status:  routing.Status{Name: "s", Group: groups[r.IntN(len(groups))]},
			Capacity: routing.Capacity{
				routing.Voice: 1, routing.LiveChat: r.IntN(6), routing.LiveMessaging: r.IntN(6), routing.Email: r.IntN(11),
			},
			Occupancy: routing.Occupancy{
				routing.Voice: r.IntN(2), routing.LiveChat: r.IntN(6), routing.LiveMessaging: r.IntN(6), routing.Email: r.IntN(11),
			},
			PreviouslyAssigned: r.IntN(10) == 0,
		}
		for _, q := range queues {
			if r.IntN(2) == 0 {
				c.Queues = append(c.Queues, q)
			}
		}
		for _, s := range skills {
			if r.IntN(3) > 0 {
				c.Skills = append(c.Skills, s)
			}
		}
		switch r.IntN(5) {
		case 0: // never assigned
		case 1:
			c.LastAssignedAt = t0.Add(-time.Minute) // many exact ties
		default:
			c.LastAssignedAt = t0.Add(-time.Duration(r.IntN(3600)) * time.Second)
		}
		out[i] = c
	}
	return out
}

func randomRequest(r *rand.Rand, cands []routing.Candidate) routing.Request {
	chans := routing.Channels()
	queues := []string{"sales", "billing", "support", routing.DefaultQueue}
	req := routing.Request{
		InteractionID: "i",
		Channel:       chans[r.IntN(len(chans))],
		QueueID:       queues[r.IntN(len(queues))],
	}
	if r.IntN(2) == 0 {
		req.RequiredSkills = []string{"es"}
	}
	if r.IntN(2) == 0 && len(cands) > 0 {
		windows := []routing.StickyWindow{routing.Sticky30Days, routing.Sticky60Days, routing.StickyYear, routing.StickyEver}
		req.StickyWindow = windows[r.IntN(len(windows))]
		req.LastAgentID = cands[r.IntN(len(cands))].AgentID
		req.LastContactAt = t0.Add(-time.Duration(r.IntN(400)) * 24 * time.Hour)
	}
	return req
}

func TestChooseProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(20250314, 1))
	for iter := range 2000 {
		cands := randomCandidates(r, 1+r.IntN(40))
		req := randomRequest(r, cands)
		winner, scores, ok := routing.Choose(req, cands, t0)

		ids := map[string]int{}
		for _, c := range cands {
			ids[c.AgentID]++
		}
		anyEligible := false
		for _, c := range cands {
			if e, _ := routing.Eligible(c, req); e && ids[c.AgentID] == 1 {
				anyEligible = true
				if c.AgentID == winner && !ok {
					t.Fatalf("iter %d: winner without ok", iter)
				}
			}
		}
		if ok != anyEligible {
			t.Fatalf("iter %d: ok=%v but an eligible unique candidate exists=%v", iter, ok, anyEligible)
		}
		if ok {
			if ids[winner] != 1 {
				t.Fatalf("iter %d: winner %s is a duplicate", iter, winner)
			}
			for _, c := range cands {
				if c.AgentID == winner {
					if e, reason := routing.Eligible(c, req); !e {
						t.Fatalf("iter %d: winner %s is ineligible (%s)", iter, winner, reason)
					}
				}
			}
			if !scores[0].Sticky {
				for _, s := range scores[1:] {
					if s.Eligible && s.Total > scores[0].Total+1e-9 {
						t.Fatalf("iter %d: %s scores %.6f above winner %.6f", iter, s.AgentID, s.Total, scores[0].Total)
					}
				}
			}
		}
		if len(scores) != len(cands) {
			t.Fatalf("iter %d: %d scores for %d candidates", iter, len(scores), len(cands))
		}

		// Same input, same output.
		w2, s2, ok2 := routing.Choose(req, cands, t0)
		if w2 != winner || ok2 != ok || !reflect.DeepEqual(s2, scores) {
			t.Fatalf("iter %d: not deterministic", iter)
		}
		// Shuffled input, same output.
		shuffled := append([]routing.Candidate(nil), cands...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		w3, s3, ok3 := routing.Choose(req, shuffled, t0)
		if w3 != winner || ok3 != ok || !reflect.DeepEqual(s3, scores) {
			t.Fatalf("iter %d: order-dependent: %q vs %q", iter, winner, w3)
		}
	}
}

// Best picks exactly what Choose picks, with the same score line and eligible
// count, on every kind of candidate set: duplicates, ties, never-assigned
// agents, sticky agents eligible or not, nobody eligible.
func TestBestAgreesWithChoose(t *testing.T) {
	r := rand.New(rand.NewPCG(20251121, 3))
	for iter := range 5000 {
		n := r.IntN(60)
		if iter%100 == 0 {
			n = 2000
		}
		cands := randomCandidates(r, n)
		req := randomRequest(r, cands)
		winner, scores, ok := routing.Choose(req, cands, t0)
		best, eligible, bestOK := routing.Best(req, cands, t0)
		want := 0
		for _, s := range scores {
			if s.Eligible {
				want++
			}
		}
		if bestOK != ok || eligible != want {
			t.Fatalf("iter %d: Best ok=%v eligible=%d, Choose ok=%v eligible=%d", iter, bestOK, eligible, ok, want)
		}
		if ok && (best.AgentID != winner || !reflect.DeepEqual(best, scores[0])) {
			t.Fatalf("iter %d: Best %+v, Choose %+v", iter, best, scores[0])
		}
	}
}

func TestBulkAssignProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	chans := routing.Channels()
	for iter := range 500 {
		agent := randomCandidates(r, 1)[0]
		agent.Status.Group = routing.GroupAvailable
		var ws []routing.Waiting
		for i := range r.IntN(30) {
			ws = append(ws, routing.Waiting{
				ID: fmt.Sprintf("w%02d", i), QueueID: []string{"sales", "billing", routing.DefaultQueue}[r.IntN(3)],
				Channel: chans[r.IntN(len(chans))], Priority: routing.Priority(r.IntN(4) - 1),
				CreatedAt: t0.Add(-time.Duration(r.IntN(100)) * time.Second),
			})
		}
		got := routing.BulkAssign(agent, ws, t0)
		// Never over capacity on any channel.
		occ := copyOcc(agent.Occupancy)
		byID := map[string]routing.Waiting{}
		for _, w := range ws {
			byID[w.ID] = w
		}
		for _, id := range got {
			occ[byID[id].Channel]++
		}
		for _, ch := range chans {
			limit := agent.Capacity[ch]
			if ch == routing.Voice {
				limit = 1
			}
			if added := occ[ch] - agent.Occupancy[ch]; added > 0 && occ[ch] > limit {
				t.Fatalf("iter %d: %s over capacity: %d > %d", iter, ch, occ[ch], limit)
			}
		}
		// Order-independent.
		r.Shuffle(len(ws), func(i, j int) { ws[i], ws[j] = ws[j], ws[i] })
		if again := routing.BulkAssign(agent, ws, t0); !reflect.DeepEqual(again, got) {
			t.Fatalf("iter %d: order-dependent: %v vs %v", iter, got, again)
		}
	}
}
