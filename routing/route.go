package routing

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// DefaultQueue is the reserved ID of every tenant's Default queue: the queue
// that takes whatever no route matches and that every agent belongs to.
const DefaultQueue = "default"

// Route sends interactions matching Match to QueueID with Priority. Routes
// are tried in ascending Position; equal positions fall back to ID order so a
// tie never depends on how storage happened to return the rows.
type Route struct {
	ID       string    `json:"id"`
	Position int       `json:"position"`
	Enabled  bool      `json:"enabled"`
	Match    Condition `json:"match"`
	QueueID  string    `json:"queueId"`
	Priority Priority  `json:"priority"`
	// RequiredSkills are skill IDs an agent must hold to be offered the
	// interaction; they are matched exactly because they come from a picker.
	RequiredSkills []string `json:"requiredSkills,omitempty"`
}

// Validate checks one route. Field paths are relative to the route
// ("match.any[0].attr"); ValidateRoutes prefixes them with "routes[i]".
// Disabled routes are validated too, so enabling one later cannot fail.
func (r Route) Validate() error {
	switch {
	case strings.TrimSpace(r.ID) == "":
		return invalid("id", "route id is required")
	case strings.TrimSpace(r.QueueID) == "":
		return invalid("queueId", "destination queue is required")
	case !r.Priority.Valid():
		return invalid("priority", "unknown priority %d", int(r.Priority))
	}
	seen := make(map[string]bool, len(r.RequiredSkills))
	for i, s := range r.RequiredSkills {
		field := fmt.Sprintf("requiredSkills[%d]", i)
		if strings.TrimSpace(s) == "" {
			return invalid(field, "skill id is required")
		}
		if seen[s] {
			return invalid(field, "skill %q is listed twice", s)
		}
		seen[s] = true
	}
	if err := r.Match.Validate(); err != nil {
		return prefixed("match", err)
	}
	return nil
}

// ValidateRoutes checks a tenant's whole route list, including that route IDs
// are unique. The first problem found, in list order, is returned.
func ValidateRoutes(routes []Route) error {
	ids := make(map[string]int, len(routes))
	for i, r := range routes {
		field := fmt.Sprintf("routes[%d]", i)
		if err := r.Validate(); err != nil {
			return prefixed(field, err)
		}
		if j, dup := ids[r.ID]; dup {
			return invalid(field+".id", "route id %q is already used by routes[%d]", r.ID, j)
		}
		ids[r.ID] = i
	}
	return nil
}

// Decision is where routing sends an interaction.
type Decision struct {
	// RouteID is the matching route, empty when the Default queue was used.
	RouteID        string   `json:"routeId,omitempty"`
	QueueID        string   `json:"queueId"`
	Priority       Priority `json:"priority"`
	RequiredSkills []string `json:"requiredSkills,omitempty"`
	// Default is true when no route matched.
	Default bool `json:"default,omitempty"`
}

// RouteInteraction returns the first enabled route, by Position then ID,
// whose condition matches f, or the Default queue at normal priority when none
// does. (It is not called Route because that name is the rule type.) The
// input slice is not modified.
func RouteInteraction(f Facts, routes []Route) Decision {
	order := make([]int, len(routes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(routes[a].Position, routes[b].Position), strings.Compare(routes[a].ID, routes[b].ID))
	})
	e := evaluator{f: &f}
	for _, i := range order {
		r := routes[i]
		if !r.Enabled || r.QueueID == "" || !r.Priority.Valid() {
			continue
		}
		if e.eval(r.Match, 1) {
			return Decision{
				RouteID:        r.ID,
				QueueID:        r.QueueID,
				Priority:       r.Priority,
				RequiredSkills: slices.Clone(r.RequiredSkills),
			}
		}
	}
	return Decision{QueueID: DefaultQueue, Priority: PriorityNormal, Default: true}
}
