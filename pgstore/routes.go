package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"switchboard/routing"
)

// Route sends interactions whose facts match Condition to QueueID with Priority,
// requiring RequiredSkills of the agent. Routes are tried by ascending Position (1..n,
// no gaps); the first enabled match wins and no match means the Default queue.
type Route struct {
	ID        string            `json:"id"`
	TenantID  string            `json:"tenantId"`
	Name      string            `json:"name"`
	Position  int               `json:"position"`
	Enabled   bool              `json:"enabled"`
	Condition routing.Condition `json:"condition"`
	QueueID   string            `json:"queueId"`
	Priority  routing.Priority  `json:"priority"`
	// RequiredSkills are skill IDs in the order the supervisor gave them.
	RequiredSkills []string  `json:"requiredSkills"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

// Rule is the route as the routing package evaluates it. Its QueueID is the queue's
// UUID, the Default queue's included; routing.DefaultQueue only names the fallback.
func (r Route) Rule() routing.Route {
	return routing.Route{
		ID: r.ID, Position: r.Position, Enabled: r.Enabled, Match: r.Condition,
		QueueID: r.QueueID, Priority: r.Priority, RequiredSkills: slices.Clone(r.RequiredSkills),
	}
}

// MaxRoutes bounds a tenant's route list, which is evaluated for every new interaction
// and returned whole.
const MaxRoutes = 500

const maxRouteName = 200

// NewRoute is a route to create.
type NewRoute struct {
	Name string `json:"name"`
	// Position is where to insert the route (1 = tried first); 0 appends it.
	Position int `json:"position"`
	// Enabled defaults to true.
	Enabled   *bool              `json:"enabled"`
	Condition *routing.Condition `json:"condition"`
	QueueID   string             `json:"queueId"`
	// Priority is low, normal (the default), high or urgent.
	Priority       string   `json:"priority"`
	RequiredSkills []string `json:"requiredSkills"`

	priority routing.Priority
}

// Validate checks the route with the routing package's rules and fills in defaults.
// Whether the queue and skills exist in the tenant is checked by CreateRoute.
func (r *NewRoute) Validate() error {
	if err := validRouteName(&r.Name); err != nil {
		return err
	}
	if r.Position < 0 {
		return invalid("position", "must be 1 or more (or left out to append)")
	}
	if r.Enabled == nil {
		on := true
		r.Enabled = &on
	}
	p, err := parsePriority(r.Priority)
	if err != nil {
		return err
	}
	r.priority = p
	if r.Condition == nil {
		return invalid("condition", "is required")
	}
	return validRule(*r.Condition, r.QueueID, p, r.RequiredSkills)
}

// RouteUpdate changes the fields that are set; RequiredSkills replaces the whole list
// and Position moves the route, shifting the routes in between.
type RouteUpdate struct {
	Name           *string            `json:"name"`
	Position       *int               `json:"position"`
	Enabled        *bool              `json:"enabled"`
	Condition      *routing.Condition `json:"condition"`
	QueueID        *string            `json:"queueId"`
	Priority       *string            `json:"priority"`
	RequiredSkills *[]string          `json:"requiredSkills"`
}

// Validate checks the fields that are set on their own; UpdateRoute validates the
// resulting route as a whole.
func (u *RouteUpdate) Validate() error {
	if u.Name != nil {
		if err := validRouteName(u.Name); err != nil {
			return err
		}
	}
	if u.Position != nil && *u.Position < 1 {
		return invalid("position", "must be 1 or more")
	}
	if u.Priority != nil {
		if _, err := parsePriority(*u.Priority); err != nil {
			return err
		}
	}
	if u.Name == nil && u.Position == nil && u.Enabled == nil && u.Condition == nil && u.QueueID == nil &&
		u.Priority == nil && u.RequiredSkills == nil {
		return invalid("", "nothing to change: set name, position, enabled, condition, queueId, priority or requiredSkills")
	}
	return nil
}

// RouteOrder is the tenant's complete route list in the new order.
type RouteOrder struct {
	RouteIDs []string `json:"routeIds"`
}

// Validate checks the list's shape; ReorderRoutes checks it names exactly the tenant's routes.
func (o *RouteOrder) Validate() error {
	if o.RouteIDs == nil {
		return invalid("routeIds", "is required: every route ID, in the new order")
	}
	return checkIDs("routeIds", o.RouteIDs)
}

func validRouteName(name *string) error {
	*name = strings.TrimSpace(*name)
	if *name == "" || utf8.RuneCountInString(*name) > maxRouteName {
		return invalid("name", "is required and at most %d characters", maxRouteName)
	}
	return nil
}

func parsePriority(s string) (routing.Priority, error) {
	p, err := routing.ParsePriority(s)
	if err != nil {
		return 0, invalid("priority", "must be low, normal, high or urgent")
	}
	return p, nil
}

// validRule runs the routing package's route validation and reports its fields under
// this API's names (routing's "match" is "condition" here).
func validRule(cond routing.Condition, queueID string, p routing.Priority, skills []string) error {
	if !isUUID(queueID) {
		return invalid("queueId", "must be the ID of a queue of this tenant")
	}
	if err := checkIDs("requiredSkills", skills); err != nil {
		return err
	}
	err := routing.Route{ID: "new", QueueID: queueID, Priority: p, RequiredSkills: skills, Match: cond}.Validate()
	if err == nil {
		return nil
	}
	err = fromRouting("", err)
	if v, ok := err.(*ValidationError); ok {
		if rest, found := strings.CutPrefix(v.Field, "match"); found {
			v.Field = "condition" + rest
		}
	}
	return err
}

// routesLockClass is the first key of the advisory lock that serialises writes to one
// tenant's route list; the second is derived from the tenant ID. A hash collision only
// makes two tenants wait for each other.
const routesLockClass = 0x5254 // "RT"

var routeList = orderedList{table: "routes", noun: "route", plural: "routes", lockClass: routesLockClass}

func lockRoutes(ctx context.Context, tx pgx.Tx, tenantID string) error {
	return routeList.lock(ctx, tx, tenantID)
}

const routeColumns = `id, tenant_id, name, position, enabled, condition, queue_id, priority, created_at, updated_at`

func scanRoute(row pgx.Row) (Route, error) {
	var (
		r        Route
		cond     []byte
		priority string
	)
	if err := row.Scan(&r.ID, &r.TenantID, &r.Name, &r.Position, &r.Enabled, &cond, &r.QueueID, &priority, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return r, err
	}
	if err := json.Unmarshal(cond, &r.Condition); err != nil {
		return r, fmt.Errorf("route %s: stored condition: %w", r.ID, err)
	}
	p, err := routing.ParsePriority(priority)
	if err != nil {
		return r, fmt.Errorf("route %s: %w", r.ID, err)
	}
	r.Priority = p
	r.RequiredSkills = []string{}
	return r, nil
}

// checkRouteRefs answers 422 when the destination queue or a required skill is not the
// tenant's.
func checkRouteRefs(ctx context.Context, tx pgx.Tx, tenantID, queueID string, skills []string) error {
	if i, err := missingIDs(ctx, tx, sqlTenantQueues, tenantID, []string{queueID}); err != nil {
		return err
	} else if i >= 0 {
		return invalid("queueId", "no queue %s in this tenant", queueID)
	}
	return checkSkills(ctx, tx, tenantID, "requiredSkills", skills)
}

// refError turns a foreign-key failure at commit — the queue or a skill was deleted by
// a concurrent transaction after the checks — into the same 422 the checks give.
func refError(err error) error {
	switch {
	case fkViolation(err, "routes_queue"):
		return invalid("queueId", "the queue was just deleted")
	case fkViolation(err, "route_skills_skill"):
		return invalid("requiredSkills", "a required skill was just deleted")
	}
	return err
}

func setRouteSkills(ctx context.Context, tx pgx.Tx, tenantID, routeID string, skills []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM route_skills WHERE tenant_id = $1 AND route_id = $2`, tenantID, routeID); err != nil {
		return err
	}
	if len(skills) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO route_skills (tenant_id, route_id, skill_id, ordinal)
		SELECT $1, $2, s, i FROM unnest($3::uuid[]) WITH ORDINALITY AS t (s, i)`, tenantID, routeID, skills)
	return err
}

// CreateRoute inserts a route at its position (shifting the later ones down) or at the
// end. The queue and skills must be the tenant's (422 naming the field).
func (s *Store) CreateRoute(ctx context.Context, tenantID string, actor Actor, in NewRoute) (Route, error) {
	if err := in.Validate(); err != nil {
		return Route{}, err
	}
	cond, err := json.Marshal(in.Condition)
	if err != nil {
		return Route{}, err
	}
	var out Route
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockRoutes(ctx, tx, tenantID); err != nil {
			return err
		}
		if err := checkRouteRefs(ctx, tx, tenantID, in.QueueID, in.RequiredSkills); err != nil {
			return err
		}
		n, err := routeList.count(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		if n >= MaxRoutes {
			return fmt.Errorf("a tenant has at most %d routes; delete unused ones first: %w", MaxRoutes, ErrConflict)
		}
		pos, err := routeList.makeRoom(ctx, tx, tenantID, in.Position, n)
		if err != nil {
			return err
		}
		r, err := scanRoute(tx.QueryRow(ctx, `
			INSERT INTO routes (tenant_id, name, position, enabled, condition, queue_id, priority)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+routeColumns,
			tenantID, in.Name, pos, *in.Enabled, cond, in.QueueID, in.priority.String()))
		if err != nil {
			return translate(err, "route")
		}
		if err := setRouteSkills(ctx, tx, tenantID, r.ID, in.RequiredSkills); err != nil {
			return err
		}
		if err := audit(ctx, tx, tenantID, actor, "route.created", "route", r.ID, in); err != nil {
			return err
		}
		out, err = getRoute(ctx, tx, tenantID, r.ID, false)
		return err
	})
	return out, refError(err)
}

// GetRoute returns one route.
func (s *Store) GetRoute(ctx context.Context, tenantID, id string) (Route, error) {
	return getRoute(ctx, s.pool, tenantID, id, false)
}

func getRoute(ctx context.Context, q querier, tenantID, id string, forUpdate bool) (Route, error) {
	if !isUUID(id) {
		return Route{}, translate(pgx.ErrNoRows, "route")
	}
	sql := `SELECT ` + routeColumns + ` FROM routes WHERE tenant_id = $1 AND id = $2`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	r, err := scanRoute(q.QueryRow(ctx, sql, tenantID, id))
	if err != nil {
		return Route{}, translate(err, "route")
	}
	rs := []Route{r}
	if err := loadRouteSkills(ctx, q, tenantID, rs); err != nil {
		return Route{}, err
	}
	return rs[0], nil
}

// ListRoutes returns all of a tenant's routes in routing order.
func (s *Store) ListRoutes(ctx context.Context, tenantID string) ([]Route, error) {
	return listRoutes(ctx, s.pool, tenantID)
}

func listRoutes(ctx context.Context, q querier, tenantID string) ([]Route, error) {
	rows, err := q.Query(ctx, `SELECT `+routeColumns+` FROM routes WHERE tenant_id = $1 ORDER BY position`, tenantID)
	if err != nil {
		return nil, err
	}
	rs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Route, error) { return scanRoute(r) })
	if err != nil {
		return nil, err
	}
	if rs == nil {
		rs = []Route{}
	}
	return rs, loadRouteSkills(ctx, q, tenantID, rs)
}

func loadRouteSkills(ctx context.Context, q querier, tenantID string, rs []Route) error {
	if len(rs) == 0 {
		return nil
	}
	index := make(map[string]int, len(rs))
	ids := make([]string, 0, len(rs))
	for i, r := range rs {
		index[r.ID] = i
		ids = append(ids, r.ID)
	}
	rows, err := q.Query(ctx, `
		SELECT route_id, skill_id FROM route_skills
		WHERE tenant_id = $1 AND route_id = ANY($2::uuid[]) ORDER BY route_id, ordinal`, tenantID, ids)
	if err != nil {
		return err
	}
	var routeID, skillID string
	_, err = pgx.ForEachRow(rows, []any{&routeID, &skillID}, func() error {
		i := index[routeID]
		rs[i].RequiredSkills = append(rs[i].RequiredSkills, skillID)
		return nil
	})
	return err
}

// UpdateRoute changes a route; the result is validated as a whole, and a new position
// moves it, shifting the routes in between by one.
func (s *Store) UpdateRoute(ctx context.Context, tenantID string, actor Actor, id string, in RouteUpdate) (Route, error) {
	if err := in.Validate(); err != nil {
		return Route{}, err
	}
	var out Route
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockRoutes(ctx, tx, tenantID); err != nil {
			return err
		}
		r, err := getRoute(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if in.Name != nil {
			r.Name = *in.Name
		}
		if in.Enabled != nil {
			r.Enabled = *in.Enabled
		}
		if in.Condition != nil {
			r.Condition = *in.Condition
		}
		if in.QueueID != nil {
			r.QueueID = *in.QueueID
		}
		if in.Priority != nil {
			r.Priority, _ = parsePriority(*in.Priority) // checked by Validate
		}
		if in.RequiredSkills != nil {
			r.RequiredSkills = *in.RequiredSkills
			if r.RequiredSkills == nil {
				r.RequiredSkills = []string{}
			}
		}
		if err := validRule(r.Condition, r.QueueID, r.Priority, r.RequiredSkills); err != nil {
			return err
		}
		if err := checkRouteRefs(ctx, tx, tenantID, r.QueueID, r.RequiredSkills); err != nil {
			return err
		}
		if in.Position != nil && *in.Position != r.Position {
			if err := routeList.move(ctx, tx, tenantID, r.ID, r.Position, *in.Position); err != nil {
				return err
			}
		}
		cond, err := json.Marshal(r.Condition)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE routes SET name = $3, enabled = $4, condition = $5, queue_id = $6, priority = $7, updated_at = now()
			WHERE tenant_id = $1 AND id = $2`, tenantID, r.ID, r.Name, r.Enabled, cond, r.QueueID, r.Priority.String()); err != nil {
			return err
		}
		if in.RequiredSkills != nil {
			if err := setRouteSkills(ctx, tx, tenantID, r.ID, r.RequiredSkills); err != nil {
				return err
			}
		}
		if err := audit(ctx, tx, tenantID, actor, "route.updated", "route", r.ID, in); err != nil {
			return err
		}
		out, err = getRoute(ctx, tx, tenantID, r.ID, false)
		return err
	})
	return out, refError(err)
}

// DeleteRoute removes a route and closes the gap it leaves.
func (s *Store) DeleteRoute(ctx context.Context, tenantID string, actor Actor, id string) error {
	if !isUUID(id) {
		return translate(pgx.ErrNoRows, "route")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockRoutes(ctx, tx, tenantID); err != nil {
			return err
		}
		pos, name, err := routeList.remove(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "route.deleted", "route", id, map[string]any{"name": name, "position": pos})
	})
}

// ReorderRoutes gives the routes the order of in.RouteIDs, which must name every route
// of the tenant once. A list that names unknown routes or misses some is refused with
// ErrConflict: it was made from a stale view (a route was added or deleted meanwhile),
// and applying part of it would put routes where nobody meant them to be.
func (s *Store) ReorderRoutes(ctx context.Context, tenantID string, actor Actor, in RouteOrder) ([]Route, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	ids := make([]string, len(in.RouteIDs))
	for i, id := range in.RouteIDs {
		ids[i] = strings.ToLower(id)
	}
	var out []Route
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockRoutes(ctx, tx, tenantID); err != nil {
			return err
		}
		err := routeList.reorder(ctx, tx, tenantID, ids)
		if err != nil {
			return err
		}
		if err := audit(ctx, tx, tenantID, actor, "routes.reordered", "route_list", tenantID, in); err != nil {
			return err
		}
		out, err = listRoutes(ctx, tx, tenantID)
		return err
	})
	return out, err
}
