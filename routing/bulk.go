package routing

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"
)

// Waiting is an unassigned interaction considered by bulk assignment.
type Waiting struct {
	ID             string    `json:"id"`
	QueueID        string    `json:"queueId"`
	Channel        Channel   `json:"channel"`
	Priority       Priority  `json:"priority"`
	CreatedAt      time.Time `json:"createdAt"`
	RequiredSkills []string  `json:"requiredSkills,omitempty"`
	// ExcludedAgents already held this interaction and are not offered it
	// again.
	ExcludedAgents []string `json:"excludedAgents,omitempty"`
	// NotBefore defers the interaction (snoozed, or a scheduled callback);
	// zero means it is assignable now.
	NotBefore time.Time `json:"notBefore"`
}

// OrderWaiting returns a sorted copy: higher priority first, then older
// creation time, then ID so equal timestamps still have one order.
func OrderWaiting(items []Waiting) []Waiting {
	out := slices.Clone(items)
	slices.SortStableFunc(out, compareWaiting)
	return out
}

func compareWaiting(a, b Waiting) int {
	return cmp.Or(
		cmp.Compare(b.Priority, a.Priority),
		a.CreatedAt.Compare(b.CreatedAt),
		strings.Compare(a.ID, b.ID),
	)
}

// BulkAssign returns the IDs of the waiting interactions to give agent, in
// the order they should be offered, when the agent becomes free to take
// work. It walks the waiting list in OrderWaiting order and takes each
// interaction the agent is eligible for (same rules as Eligible, with the
// occupancy growing as items are taken), skipping — not stopping at — items on
// a channel that is already full, so a full email slot does not block a
// waiting chat. It stops once no channel has room. Items deferred past now and
// repeated IDs are skipped.
func BulkAssign(agent Candidate, waiting []Waiting, now time.Time) []string {
	if agent.AgentID == "" || !agent.Status.Group.ReceivesNew() {
		return nil
	}
	occ := maps.Clone(agent.Occupancy)
	if occ == nil {
		occ = Occupancy{}
	}
	taken := make(map[string]bool)
	var out []string
	for _, w := range OrderWaiting(waiting) {
		if !anyRoom(occ, agent.Capacity) {
			break
		}
		if taken[w.ID] || w.NotBefore.After(now) {
			continue
		}
		c := agent
		c.Occupancy = occ
		c.PreviouslyAssigned = slices.Contains(w.ExcludedAgents, agent.AgentID)
		req := Request{InteractionID: w.ID, Channel: w.Channel, QueueID: w.QueueID, RequiredSkills: w.RequiredSkills}
		if ok, _ := Eligible(c, req); !ok {
			continue
		}
		taken[w.ID] = true
		occ[w.Channel]++
		out = append(out, w.ID)
	}
	return out
}

func anyRoom(occ Occupancy, cap Capacity) bool {
	for _, ch := range Channels() {
		if HasRoom(occ, cap, ch) {
			return true
		}
	}
	return false
}

// OnQueueChange reports whether the agent holding an interaction keeps it
// when the interaction moves to newQueue: yes if they belong to that queue
// (everyone belongs to the Default queue), otherwise they are unassigned and
// assignment starts afresh on the new queue.
func OnQueueChange(assignedAgentQueues []string, newQueue string) (keepAgent bool) {
	return inQueue(assignedAgentQueues, newQueue)
}
