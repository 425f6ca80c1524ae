package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"switchboard/pgstore"
	"switchboard/routing"
)

// order returns the tenant's route names by position and checks positions are 1..n.
func order(t *testing.T, tenantID string) string {
	t.Helper()
	rs, err := store.ListRoutes(testContext(t), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i, r := range rs {
		if r.Position != i+1 {
			t.Errorf("route %q at position %d, index %d: positions are not 1..n", r.Name, r.Position, i)
		}
		names = append(names, r.Name)
	}
	return strings.Join(names, ",")
}

func routeIDs(t *testing.T, tenantID string) []string {
	t.Helper()
	rs, err := store.ListRoutes(testContext(t), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	sales := newQueue(t, tid, "Sales")
	vip := newQueue(t, tid, "VIP")
	spanish, billing := newSkill(t, tid, "Spanish"), newSkill(t, tid, "Billing")

	tree := routing.AnyOf(
		routing.AllOf(routing.Where("customer.tier", routing.OpIs, "gold"), routing.Where(routing.AttrChannel, routing.OpIs, "live_chat")),
		routing.Where(routing.AttrTags, routing.OpInList, "vip", "priority"),
	)
	off := false
	a, err := store.CreateRoute(ctx, tid, pgstore.Actor{RequestID: "req-r"}, pgstore.NewRoute{
		Name: " Gold ", Condition: &tree, QueueID: vip.ID, Priority: "urgent", RequiredSkills: []string{spanish.ID, billing.ID}, Enabled: &off,
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "Gold" || a.Position != 1 || a.Enabled || a.QueueID != vip.ID || a.Priority != routing.PriorityUrgent ||
		strings.Join(a.RequiredSkills, ",") != spanish.ID+","+billing.ID || a.TenantID != tid {
		t.Errorf("created %+v", a)
	}
	if got, err := store.GetRoute(ctx, tid, a.ID); err != nil || fmt.Sprint(got.Condition) != fmt.Sprint(tree) {
		t.Errorf("stored condition %+v, %v; want %+v", got.Condition, err, tree)
	}
	b := newRoute(t, tid, "B", sales.ID)
	if b.Position != 2 || !b.Enabled || b.Priority != routing.PriorityNormal || len(b.RequiredSkills) != 0 {
		t.Errorf("appended %+v", b)
	}
	// Inserting at a position shifts the later routes.
	c, err := store.CreateRoute(ctx, tid, pgstore.Actor{}, pgstore.NewRoute{Name: "C", Position: 1, QueueID: sales.ID, Condition: cond("from", routing.OpStartsWith, "+385")})
	if err != nil || c.Position != 1 {
		t.Fatalf("insert at 1: %+v, %v", c, err)
	}
	if _, err := store.CreateRoute(ctx, tid, pgstore.Actor{}, pgstore.NewRoute{Name: "D", Position: 4, QueueID: sales.ID, Condition: cond("from", routing.OpIs, "x")}); err != nil {
		t.Fatalf("insert at n+1: %v", err)
	}
	_, err = store.CreateRoute(ctx, tid, pgstore.Actor{}, pgstore.NewRoute{Name: "E", Position: 6, QueueID: sales.ID, Condition: cond("from", routing.OpIs, "x")})
	wantInvalid(t, err, "position")
	if got := order(t, tid); got != "C,Gold,B,D" {
		t.Errorf("order = %s", got)
	}

	// Moving a route shifts those in between, both ways.
	move := func(name string, id string, to int, want string) {
		t.Helper()
		r, err := store.UpdateRoute(ctx, tid, pgstore.Actor{}, id, pgstore.RouteUpdate{Position: &to})
		if err != nil || r.Position != to {
			t.Fatalf("move %s to %d: %+v, %v", name, to, r, err)
		}
		if got := order(t, tid); got != want {
			t.Errorf("after moving %s to %d: %s, want %s", name, to, got, want)
		}
	}
	move("B", b.ID, 1, "B,C,Gold,D")
	move("B", b.ID, 4, "C,Gold,D,B")
	move("C", c.ID, 3, "Gold,D,C,B")
	move("C", c.ID, 3, "Gold,D,C,B")
	five := 5
	_, err = store.UpdateRoute(ctx, tid, pgstore.Actor{}, c.ID, pgstore.RouteUpdate{Position: &five})
	wantInvalid(t, err, "position")

	// Other fields; the result is validated as a whole.
	newName, high := "Gold customers", "high"
	on := true
	u, err := store.UpdateRoute(ctx, tid, pgstore.Actor{}, a.ID, pgstore.RouteUpdate{Name: &newName, Enabled: &on, Priority: &high,
		QueueID: &sales.ID, RequiredSkills: &[]string{billing.ID}, Condition: cond("customer.tier", routing.OpIs, "gold")})
	if err != nil || u.Name != newName || !u.Enabled || u.Priority != routing.PriorityHigh || u.QueueID != sales.ID ||
		strings.Join(u.RequiredSkills, ",") != billing.ID || u.Condition.Attr != "customer.tier" || u.Position != 1 {
		t.Errorf("updated %+v, %v", u, err)
	}
	if n := auditCount(t, tid, "route.updated", a.ID); n != 1 {
		t.Errorf("%d route.updated audit rows for Gold", n)
	}

	// The queue lists the routes leading to it, by position.
	if q, err := store.GetQueue(ctx, tid, sales.ID); err != nil || len(q.Routes) != 4 || q.Routes[0].ID != a.ID || q.Routes[0].Priority != routing.PriorityHigh {
		t.Errorf("Sales routes = %+v, %v", q.Routes, err)
	}

	// Deleting closes the gap.
	if err := store.DeleteRoute(ctx, tid, pgstore.Actor{}, b.ID); err != nil {
		t.Fatal(err)
	}
	if got := order(t, tid); got != "Gold customers,D,C" {
		t.Errorf("after delete: %s", got)
	}
	wantErr(t, store.DeleteRoute(ctx, tid, pgstore.Actor{}, b.ID), pgstore.ErrNotFound)
	_, err = store.GetRoute(ctx, tid, b.ID)
	wantErr(t, err, pgstore.ErrNotFound)

	// The stored routes drive the routing package: first enabled match wins.
	rs, err := store.ListRoutes(ctx, tid)
	if err != nil {
		t.Fatal(err)
	}
	var rules []routing.Route
	for _, r := range rs {
		rules = append(rules, r.Rule())
	}
	if err := routing.ValidateRoutes(rules); err != nil {
		t.Errorf("stored routes do not validate: %v", err)
	}
	d := routing.RouteInteraction(routing.Facts{Channel: routing.LiveChat, Customer: map[string]string{"tier": "Gold"}}, rules)
	if d.RouteID != a.ID || d.QueueID != sales.ID || d.Priority != routing.PriorityHigh || strings.Join(d.RequiredSkills, ",") != billing.ID {
		t.Errorf("decision %+v, want route Gold customers", d)
	}
	if d := routing.RouteInteraction(routing.Facts{Channel: routing.Email}, rules); !d.Default {
		t.Errorf("unmatched decision %+v, want the Default queue", d)
	}
}

func TestReorderRoutes(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	q := defaultQueue(t, tid)
	for _, n := range []string{"A", "B", "C", "D"} {
		newRoute(t, tid, n, q.ID)
	}
	ids := routeIDs(t, tid) // A B C D
	reversed := slices.Clone(ids)
	slices.Reverse(reversed)
	rs, err := store.ReorderRoutes(ctx, tid, pgstore.Actor{RequestID: "req-order"}, pgstore.RouteOrder{RouteIDs: reversed})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 4 || rs[0].Name != "D" || rs[3].Position != 4 {
		t.Errorf("returned %+v", rs)
	}
	if got := order(t, tid); got != "D,C,B,A" {
		t.Errorf("order = %s", got)
	}
	if n := auditCount(t, tid, "routes.reordered", tid); n != 1 {
		t.Errorf("%d routes.reordered audit rows", n)
	}
	// Upper-case IDs are the same IDs.
	upper := []string{strings.ToUpper(ids[1]), ids[0], ids[2], ids[3]}
	if _, err := store.ReorderRoutes(ctx, tid, pgstore.Actor{}, pgstore.RouteOrder{RouteIDs: upper}); err != nil {
		t.Errorf("upper-case IDs: %v", err)
	}
	if got := order(t, tid); got != "B,A,C,D" {
		t.Errorf("order = %s", got)
	}

	before := snapshot(t, tid)
	ot := newTenant(t).Tenant.ID
	other := newRoute(t, ot, "X", defaultQueue(t, ot).ID)
	for name, list := range map[string][]string{
		"missing one":         ids[:3],
		"unknown one":         append(slices.Clone(ids[:3]), "00000000-0000-4000-8000-000000000000"),
		"one extra":           append(slices.Clone(ids), "00000000-0000-4000-8000-000000000000"),
		"empty":               {},
		"other tenant's ones": {ids[0], ids[1], ids[2], other.ID},
	} {
		_, err := store.ReorderRoutes(ctx, tid, pgstore.Actor{}, pgstore.RouteOrder{RouteIDs: list})
		if !errors.Is(err, pgstore.ErrConflict) {
			t.Errorf("%s: %v, want ErrConflict", name, err)
		}
	}
	_, err = store.ReorderRoutes(ctx, tid, pgstore.Actor{}, pgstore.RouteOrder{RouteIDs: []string{ids[0], ids[1], ids[1], ids[2]}})
	wantInvalid(t, err, "routeIds[2]")
	_, err = store.ReorderRoutes(ctx, tid, pgstore.Actor{}, pgstore.RouteOrder{RouteIDs: []string{ids[0], "nope"}})
	wantInvalid(t, err, "routeIds[1]")
	_, err = store.ReorderRoutes(ctx, tid, pgstore.Actor{}, pgstore.RouteOrder{})
	wantInvalid(t, err, "routeIds")
	if after := snapshot(t, tid); after != before {
		t.Errorf("refused reorders changed data")
	}
	// A tenant without routes reorders an empty list.
	if rs, err := store.ReorderRoutes(ctx, newTenant(t).Tenant.ID, pgstore.Actor{}, pgstore.RouteOrder{RouteIDs: []string{}}); err != nil || len(rs) != 0 {
		t.Errorf("empty reorder: %+v, %v", rs, err)
	}
}

// Twenty writers create, move, delete and reorder one tenant's routes at once; the
// positions stay 1..n without duplicates or gaps, and every successful write is audited.
func TestRoutesConcurrentWrites(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	q := defaultQueue(t, tid)
	for i := range 5 {
		newRoute(t, tid, fmt.Sprintf("seed-%d", i), q.ID)
	}
	const writers = 20
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		ok    = map[string]int{}
	)
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			<-start
			for i := range 10 {
				var err error
				op := []string{"create", "insert", "move", "delete", "reorder"}[rng.IntN(5)]
				switch op {
				case "create":
					_, err = store.CreateRoute(ctx, tid, pgstore.Actor{}, pgstore.NewRoute{Name: fmt.Sprintf("w%d-%d", w, i), QueueID: q.ID, Condition: cond("from", routing.OpIs, "1")})
				case "insert":
					_, err = store.CreateRoute(ctx, tid, pgstore.Actor{}, pgstore.NewRoute{Name: fmt.Sprintf("w%d-%d", w, i), Position: 1 + rng.IntN(3), QueueID: q.ID, Condition: cond("from", routing.OpIs, "1")})
				case "move", "delete", "reorder":
					ids, lerr := listIDs(ctx, tid)
					if lerr != nil || len(ids) == 0 {
						err = lerr
						break
					}
					id := ids[rng.IntN(len(ids))]
					switch op {
					case "move":
						to := 1 + rng.IntN(len(ids))
						_, err = store.UpdateRoute(ctx, tid, pgstore.Actor{}, id, pgstore.RouteUpdate{Position: &to})
					case "delete":
						err = store.DeleteRoute(ctx, tid, pgstore.Actor{}, id)
					case "reorder":
						rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
						_, err = store.ReorderRoutes(ctx, tid, pgstore.Actor{}, pgstore.RouteOrder{RouteIDs: ids})
					}
				}
				var v *pgstore.ValidationError
				switch {
				case err == nil:
					mu.Lock()
					ok[op]++
					mu.Unlock()
				// Lost races against a concurrent writer: the route is gone, the list is
				// stale or the position no longer exists.
				case errors.Is(err, pgstore.ErrNotFound), errors.Is(err, pgstore.ErrConflict), errors.As(err, &v) && v.Field == "position":
				default:
					t.Errorf("writer %d %s: %v", w, op, err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	t.Logf("successful writes: %v", ok)

	var n, minPos, maxPos, distinct int
	if err := pool.QueryRow(ctx, `SELECT count(*), coalesce(min(position), 0), coalesce(max(position), 0), count(DISTINCT position) FROM routes WHERE tenant_id = $1`, tid).
		Scan(&n, &minPos, &maxPos, &distinct); err != nil {
		t.Fatal(err)
	}
	if n > 0 && (minPos != 1 || maxPos != n || distinct != n) {
		t.Errorf("%d routes with positions %d..%d, %d distinct: want 1..%d", n, minPos, maxPos, distinct, n)
	}
	if want := 5 + ok["create"] + ok["insert"] - ok["delete"]; n != want {
		t.Errorf("%d routes, want %d (5 + creates - deletes)", n, want)
	}
	order(t, tid)
	if ok["move"] == 0 {
		t.Errorf("no move succeeded (%v): the test did not exercise them", ok)
	}

	// Then twenty reorders of the same, complete list at once: all succeed one after
	// the other, and the final order is exactly one of them, never a mix.
	ids, err := listIDs(ctx, tid)
	if err != nil || len(ids) < 2 {
		t.Fatalf("%d routes left, %v", len(ids), err)
	}
	orders := make([][]string, writers)
	start = make(chan struct{})
	for w := range writers {
		orders[w] = slices.Clone(ids)
		rand.New(rand.NewPCG(uint64(w), 9)).Shuffle(len(ids), func(i, j int) { orders[w][i], orders[w][j] = orders[w][j], orders[w][i] })
		wg.Go(func() {
			<-start
			if _, err := store.ReorderRoutes(ctx, tid, pgstore.Actor{}, pgstore.RouteOrder{RouteIDs: orders[w]}); err != nil {
				t.Errorf("concurrent reorder %d: %v", w, err)
				return
			}
			mu.Lock()
			ok["reorder"]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	final, err := listIDs(ctx, tid)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(orders, func(o []string) bool { return slices.Equal(o, final) }) {
		t.Errorf("final order %v is none of the submitted orders", final)
	}
	order(t, tid)
	audits := auditCount(t, tid, "route.created", "") + auditCount(t, tid, "route.updated", "") + auditCount(t, tid, "route.deleted", "") + auditCount(t, tid, "routes.reordered", "")
	if want := 5 + ok["create"] + ok["insert"] + ok["move"] + ok["delete"] + ok["reorder"]; audits != want {
		t.Errorf("%d route audit rows, want %d", audits, want)
	}
}

func listIDs(ctx context.Context, tenantID string) ([]string, error) {
	rs, err := store.ListRoutes(ctx, tenantID)
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids, err
}
