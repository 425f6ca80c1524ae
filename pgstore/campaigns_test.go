package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/pgstore"
	"switchboard/routing"
)

func newCampaign(t *testing.T, tenantID, name string) pgstore.Campaign {
	t.Helper()
	c, err := store.CreateCampaign(testContext(t), tenantID, pgstore.Actor{}, pgstore.NewCampaign{Name: name})
	if err != nil {
		t.Fatalf("CreateCampaign %q: %v", name, err)
	}
	return c
}

func setTree(t *testing.T, tenantID, campaignID string, tree pgstore.DispositionTree) pgstore.DispositionTree {
	t.Helper()
	out, err := store.SetDispositions(testContext(t), tenantID, pgstore.Actor{}, campaignID, tree)
	if err != nil {
		t.Fatalf("SetDispositions: %v", err)
	}
	return out
}

func getTree(t *testing.T, tenantID, campaignID string) pgstore.DispositionTree {
	t.Helper()
	out, err := store.GetDispositions(testContext(t), tenantID, campaignID)
	if err != nil {
		t.Fatalf("GetDispositions: %v", err)
	}
	return out
}

// shape is a tree's names, flags and default in order, without IDs.
func shape(tree pgstore.DispositionTree) string {
	var b strings.Builder
	for _, k := range tree.Classes {
		b.WriteString(k.Name + "{")
		for _, d := range k.Codes {
			b.WriteString(d.Name)
			for _, f := range []struct {
				on  bool
				tag string
			}{{d.Callback, "c"}, {d.Blacklist, "b"}, {d.Success, "s"}, {d.Default, "*"}} {
				if f.on {
					b.WriteString("/" + f.tag)
				}
			}
			b.WriteString(";")
		}
		b.WriteString("}")
	}
	return b.String()
}

// campaignSnapshot is every campaign row of a tenant with its tree and the audit
// count, to prove a refused write changed nothing.
func campaignSnapshot(t *testing.T, tenantID string) string {
	t.Helper()
	var out []byte
	err := pool.QueryRow(testContext(t), `SELECT json_build_object(
		'campaigns', (SELECT json_agg(c ORDER BY c.id) FROM campaigns c WHERE tenant_id = $1),
		'classes', (SELECT json_agg(k ORDER BY k.id) FROM disposition_classes k WHERE tenant_id = $1),
		'codes', (SELECT json_agg(d ORDER BY d.id) FROM disposition_codes d WHERE tenant_id = $1),
		'interactions', (SELECT json_agg(i ORDER BY i.id) FROM interactions i WHERE tenant_id = $1),
		'audit', (SELECT count(*) FROM audit_log WHERE tenant_id = $1))::text`, tenantID).Scan(&out)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestNewTenantHasDefaultCampaign(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID

	cs, err := store.ListCampaigns(ctx, tid, pgstore.CampaignFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 {
		t.Fatalf("a new tenant has %d campaigns, want the Default one", len(cs))
	}
	c := cs[0]
	d := c.DefaultDisposition
	if !c.IsDefault || c.Name != pgstore.DefaultCampaignName || !c.Enabled || c.WrapUpTimeoutSeconds != 60 || c.RecordingEnabled ||
		c.CallerID != nil || c.DefaultQueueID != nil || d == nil || d.Class != "Closed" || d.Code != "Resolved" || !d.Success ||
		c.DefaultDispositionCodeID == nil || *c.DefaultDispositionCodeID != d.CodeID || d.CampaignID != c.ID {
		t.Errorf("Default campaign %+v, default disposition %+v", c, d)
	}
	if id, err := store.DefaultCampaignID(ctx, tid); err != nil || id != c.ID {
		t.Errorf("DefaultCampaignID = %s, %v; want %s", id, err, c.ID)
	}
	if got := shape(getTree(t, tid, c.ID)); got != "Closed{Resolved/s/*;No action;}" {
		t.Errorf("Default tree %s", got)
	}
	if c.WrapUpTimeout() != time.Minute {
		t.Errorf("wrap-up timeout %v", c.WrapUpTimeout())
	}

	// It cannot be deleted or disabled; it may be renamed and configured.
	before := campaignSnapshot(t, tid)
	wantErr(t, store.DeleteCampaign(ctx, tid, pgstore.Actor{}, c.ID), pgstore.ErrConflict)
	off := false
	_, err = store.UpdateCampaign(ctx, tid, pgstore.Actor{}, c.ID, pgstore.CampaignUpdate{Enabled: &off})
	wantErr(t, err, pgstore.ErrConflict)
	if after := campaignSnapshot(t, tid); after != before {
		t.Error("a refused change to the Default campaign changed something")
	}
	name, wrap := "Inbound", 0
	c, err = store.UpdateCampaign(ctx, tid, pgstore.Actor{}, c.ID, pgstore.CampaignUpdate{Name: &name, WrapUpTimeoutSeconds: &wrap})
	if err != nil || c.Name != "Inbound" || !c.IsDefault || c.WrapUpTimeoutSeconds != 0 || c.WrapUpTimeout() != 0 {
		t.Errorf("renamed Default campaign %+v, %v", c, err)
	}
}

func TestCampaignCRUD(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	sales := newQueue(t, tid, "Sales")
	actor := pgstore.Actor{RequestID: "req-campaign"}

	wrap, off := 120, false
	c, err := store.CreateCampaign(ctx, tid, actor, pgstore.NewCampaign{
		Name: "  Winter sale ", Description: " Outbound offers ", Enabled: &off, WrapUpTimeoutSeconds: &wrap,
		DefaultQueueID: sales.ID, CallerID: " +442071838750 ", RecordingEnabled: true,
	})
	if err != nil {
		t.Fatalf("CreateCampaign: %v", err)
	}
	if c.Name != "Winter sale" || c.Description != "Outbound offers" || c.Enabled || c.IsDefault || c.WrapUpTimeoutSeconds != 120 ||
		c.DefaultQueueID == nil || *c.DefaultQueueID != sales.ID || c.CallerID == nil || *c.CallerID != "+442071838750" ||
		!c.RecordingEnabled || c.DefaultDispositionCodeID != nil || c.DefaultDisposition != nil || c.TenantID != tid {
		t.Errorf("created %+v", c)
	}
	if got := getTree(t, tid, c.ID); len(got.Classes) != 0 {
		t.Errorf("a new campaign's tree %+v, want no classes", got)
	}
	if n := auditCount(t, tid, "campaign.created", c.ID); n != 1 {
		t.Errorf("%d campaign.created audit rows", n)
	}
	plain := newCampaign(t, tid, "Support")
	if plain.WrapUpTimeoutSeconds != 60 || !plain.Enabled || plain.RecordingEnabled || plain.CallerID != nil {
		t.Errorf("defaults %+v", plain)
	}

	// Found by ID or by name ignoring case.
	for _, ref := range []string{c.ID, strings.ToUpper(c.ID), "winter SALE", " Winter sale "} {
		if got, err := store.FindCampaign(ctx, tid, ref); err != nil || got.ID != c.ID {
			t.Errorf("FindCampaign(%q) = %s, %v", ref, got.ID, err)
		}
	}
	for _, ref := range []string{"", "Winter", "00000000-0000-4000-8000-000000000000"} {
		_, err := store.FindCampaign(ctx, tid, ref)
		wantErr(t, err, pgstore.ErrNotFound)
	}
	if got, err := store.GetCampaign(ctx, tid, c.ID); err != nil || got.Name != c.Name || !got.UpdatedAt.Equal(c.UpdatedAt) {
		t.Errorf("GetCampaign = %+v, %v", got, err)
	}

	// Listed in creation order, the Default campaign first; agents see enabled ones.
	all, err := store.ListCampaigns(ctx, tid, pgstore.CampaignFilter{})
	if err != nil || len(all) != 3 || !all[0].IsDefault || all[1].ID != c.ID || all[2].ID != plain.ID {
		t.Fatalf("ListCampaigns = %+v, %v", all, err)
	}
	enabled, err := store.ListCampaigns(ctx, tid, pgstore.CampaignFilter{EnabledOnly: true})
	if err != nil || len(enabled) != 2 || enabled[1].ID != plain.ID {
		t.Errorf("enabled campaigns %+v, %v", enabled, err)
	}
	page, err := store.ListCampaigns(ctx, tid, pgstore.CampaignFilter{Page: pgstore.Page{Limit: 1, After: all[0].ID}})
	if err != nil || len(page) != 1 || page[0].ID != c.ID {
		t.Errorf("second page %+v, %v", page, err)
	}

	// Updates change what is set; null clears the queue and the caller ID.
	tree := setTree(t, tid, c.ID, pgstore.DispositionTree{Classes: []pgstore.DispositionClass{
		{Name: "Sale", Codes: []pgstore.DispositionCode{{Name: "Sold", Success: true, Default: true}, {Name: "Later", Callback: true}}},
	}})
	later := tree.Classes[0].Codes[1].ID
	on, desc := true, ""
	c, err = store.UpdateCampaign(ctx, tid, actor, c.ID, pgstore.CampaignUpdate{
		Enabled: &on, Description: &desc, RecordingEnabled: &off,
		DefaultQueueID:           pgstore.Nullable[string]{Set: true},
		CallerID:                 pgstore.Nullable[string]{Set: true},
		DefaultDispositionCodeID: pgstore.Nullable[string]{Set: true, Value: &later},
	})
	if err != nil {
		t.Fatalf("UpdateCampaign: %v", err)
	}
	if !c.Enabled || c.Description != "" || c.RecordingEnabled || c.DefaultQueueID != nil || c.CallerID != nil ||
		c.DefaultDisposition == nil || c.DefaultDisposition.Code != "Later" || !c.DefaultDisposition.Callback || c.Name != "Winter sale" {
		t.Errorf("updated %+v", c)
	}
	if got := shape(getTree(t, tid, c.ID)); got != "Sale{Sold/s;Later/c/*;}" {
		t.Errorf("the tree marks the new default: %s", got)
	}
	if n := auditCount(t, tid, "campaign.updated", c.ID); n != 1 {
		t.Errorf("%d campaign.updated audit rows", n)
	}

	// Deleting a queue clears it from the campaigns that defaulted to it.
	c, err = store.UpdateCampaign(ctx, tid, actor, c.ID, pgstore.CampaignUpdate{DefaultQueueID: pgstore.Nullable[string]{Set: true, Value: &sales.ID}})
	if err != nil || c.DefaultQueueID == nil {
		t.Fatalf("set the default queue: %+v, %v", c, err)
	}
	if err := store.DeleteQueue(ctx, tid, actor, sales.ID); err != nil {
		t.Fatal(err)
	}
	if c, err = store.GetCampaign(ctx, tid, c.ID); err != nil || c.DefaultQueueID != nil {
		t.Errorf("after deleting its queue: %+v, %v", c, err)
	}

	// Deleting takes the tree with it.
	if err := store.DeleteCampaign(ctx, tid, actor, c.ID); err != nil {
		t.Fatalf("DeleteCampaign: %v", err)
	}
	_, err = store.GetCampaign(ctx, tid, c.ID)
	wantErr(t, err, pgstore.ErrNotFound)
	_, err = store.GetDispositions(ctx, tid, c.ID)
	wantErr(t, err, pgstore.ErrNotFound)
	wantErr(t, store.DeleteCampaign(ctx, tid, actor, c.ID), pgstore.ErrNotFound)
	var rows int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM disposition_classes WHERE campaign_id = $1) +
		(SELECT count(*) FROM disposition_codes WHERE campaign_id = $1)`, c.ID).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("%d rows of the deleted campaign's tree, %v", rows, err)
	}
	if n := auditCount(t, tid, "campaign.deleted", c.ID); n != 1 {
		t.Errorf("%d campaign.deleted audit rows", n)
	}

	// Other tenants' campaigns do not exist for this one.
	other := newTenant(t).Tenant.ID
	_, err = store.GetCampaign(ctx, other, plain.ID)
	wantErr(t, err, pgstore.ErrNotFound)
	_, err = store.GetDispositions(ctx, other, plain.ID)
	wantErr(t, err, pgstore.ErrNotFound)
	_, err = store.FindCampaign(ctx, other, plain.ID)
	wantErr(t, err, pgstore.ErrNotFound)
	_, err = store.SetDispositions(ctx, other, actor, plain.ID, pgstore.DispositionTree{Classes: []pgstore.DispositionClass{}})
	wantErr(t, err, pgstore.ErrNotFound)
	wantErr(t, store.DeleteCampaign(ctx, other, actor, plain.ID), pgstore.ErrNotFound)
}

// Every refused campaign write names its field or answers a conflict, and none of
// them changes anything.
func TestCampaignValidation(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	def, err := store.DefaultCampaignID(ctx, tid)
	if err != nil {
		t.Fatal(err)
	}
	c := newCampaign(t, tid, "Winter")
	tree := setTree(t, tid, c.ID, pgstore.DispositionTree{Classes: []pgstore.DispositionClass{
		{Name: "Sale", Codes: []pgstore.DispositionCode{{Name: "Sold", Default: true}, {Name: "Later", Callback: true}}},
		{Name: "No sale", Codes: []pgstore.DispositionCode{{Name: "Do not call", Blacklist: true}}},
	}})
	empty := newCampaign(t, tid, "Empty")
	defTree := getTree(t, tid, def)
	otherTenant := newTenant(t).Tenant.ID
	foreignQueue := newQueue(t, otherTenant, "Foreign")
	q := newQueue(t, tid, "Sales")
	in := enqueue(t, newInteraction(tid, q.ID, routing.Voice, routing.PriorityNormal, time.Now().UTC()))
	if _, err := pool.Exec(ctx, `UPDATE interactions SET campaign_id = $3 WHERE tenant_id = $1 AND id = $2`, tid, in.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	before := campaignSnapshot(t, tid)

	long := func(n int) string { return strings.Repeat("x", n) }
	ptr := func(s string) *string { return &s }
	num := func(n int) *int { return &n }
	null := pgstore.Nullable[string]{Set: true}
	val := func(s string) pgstore.Nullable[string] { return pgstore.Nullable[string]{Set: true, Value: &s} }
	sold, later, doNotCall := tree.Classes[0].Codes[0], tree.Classes[0].Codes[1], tree.Classes[1].Codes[0]
	saleID, noSaleID := tree.Classes[0].ID, tree.Classes[1].ID
	resolvedID := defTree.Classes[0].Codes[0].ID
	unknown := "00000000-0000-4000-8000-000000000000"

	create := func(in pgstore.NewCampaign) func(context.Context) error {
		return func(ctx context.Context) error {
			if in.Name == "" {
				in.Name = "New"
			}
			_, err := store.CreateCampaign(ctx, tid, pgstore.Actor{}, in)
			return err
		}
	}
	update := func(id string, in pgstore.CampaignUpdate) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := store.UpdateCampaign(ctx, tid, pgstore.Actor{}, id, in)
			return err
		}
	}
	put := func(id string, classes ...pgstore.DispositionClass) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := store.SetDispositions(ctx, tid, pgstore.Actor{}, id, pgstore.DispositionTree{Classes: classes})
			return err
		}
	}
	class := func(id, name string, codes ...pgstore.DispositionCode) pgstore.DispositionClass {
		return pgstore.DispositionClass{ID: id, Name: name, Codes: codes}
	}
	code := func(id, name string) pgstore.DispositionCode { return pgstore.DispositionCode{ID: id, Name: name} }
	// kept is the current tree, as sent back unchanged.
	keptSale := class(saleID, "Sale", sold, later)
	keptNoSale := class(noSaleID, "No sale", doNotCall)
	many := func(n int, mk func(i int) pgstore.DispositionClass) []pgstore.DispositionClass {
		out := make([]pgstore.DispositionClass, n)
		for i := range out {
			out[i] = mk(i)
		}
		return out
	}
	manyCodes := make([]pgstore.DispositionCode, 101)
	for i := range manyCodes {
		manyCodes[i] = code("", fmt.Sprintf("Code %d", i))
	}
	resolve := func(campaign, class, code string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := store.ResolveDisposition(ctx, tid, campaign, class, code)
			return err
		}
	}

	tests := []struct {
		name  string
		call  func(context.Context) error
		field string
	}{
		{"name empty", create(pgstore.NewCampaign{Name: " "}), "name"},
		{"name 101 characters", create(pgstore.NewCampaign{Name: long(101)}), "name"},
		{"name with a line break", create(pgstore.NewCampaign{Name: "Winter\nsale"}), "name"},
		{"description 1001 characters", create(pgstore.NewCampaign{Description: long(1001)}), "description"},
		{"wrap-up negative", create(pgstore.NewCampaign{WrapUpTimeoutSeconds: num(-1)}), "wrapUpTimeoutSeconds"},
		{"wrap-up over an hour", create(pgstore.NewCampaign{WrapUpTimeoutSeconds: num(3601)}), "wrapUpTimeoutSeconds"},
		{"queue not an ID", create(pgstore.NewCampaign{DefaultQueueID: "Sales"}), "defaultQueueId"},
		{"queue unknown", create(pgstore.NewCampaign{DefaultQueueID: unknown}), "defaultQueueId"},
		{"queue of another tenant", create(pgstore.NewCampaign{DefaultQueueID: foreignQueue.ID}), "defaultQueueId"},
		{"caller ID without plus", create(pgstore.NewCampaign{CallerID: "442071838750"}), "callerId"},
		{"caller ID starting with 0", create(pgstore.NewCampaign{CallerID: "+0442071838"}), "callerId"},
		{"caller ID of 16 digits", create(pgstore.NewCampaign{CallerID: "+1234567890123456"}), "callerId"},
		{"caller ID with spaces", create(pgstore.NewCampaign{CallerID: "+44 20 7183 8750"}), "callerId"},

		{"update nothing", update(c.ID, pgstore.CampaignUpdate{}), ""},
		{"update name blank", update(c.ID, pgstore.CampaignUpdate{Name: ptr("  ")}), "name"},
		{"update description too long", update(c.ID, pgstore.CampaignUpdate{Description: ptr(long(1001))}), "description"},
		{"update wrap-up over an hour", update(c.ID, pgstore.CampaignUpdate{WrapUpTimeoutSeconds: num(7200)}), "wrapUpTimeoutSeconds"},
		{"update caller ID", update(c.ID, pgstore.CampaignUpdate{CallerID: val("call me")}), "callerId"},
		{"update queue unknown", update(c.ID, pgstore.CampaignUpdate{DefaultQueueID: val(unknown)}), "defaultQueueId"},
		{"update queue of another tenant", update(c.ID, pgstore.CampaignUpdate{DefaultQueueID: val(foreignQueue.ID)}), "defaultQueueId"},
		{"update default code not an ID", update(c.ID, pgstore.CampaignUpdate{DefaultDispositionCodeID: val("Sold")}), "defaultDispositionCodeId"},
		{"update default code of another campaign", update(c.ID, pgstore.CampaignUpdate{DefaultDispositionCodeID: val(resolvedID)}), "defaultDispositionCodeId"},
		{"update default code cleared", update(c.ID, pgstore.CampaignUpdate{DefaultDispositionCodeID: null}), "defaultDispositionCodeId"},
		{"update default code of an empty campaign", update(empty.ID, pgstore.CampaignUpdate{DefaultDispositionCodeID: val(sold.ID)}), "defaultDispositionCodeId"},

		{"tree without classes", put(c.ID), "classes"},
		{"tree of 51 classes", put(empty.ID, many(51, func(i int) pgstore.DispositionClass { return class("", fmt.Sprintf("C%d", i)) })...), "classes"},
		{"class of 101 codes", put(empty.ID, class("", "Big", manyCodes...)), "classes[0].codes"},
		{"class name empty", put(c.ID, keptSale, class("", " ")), "classes[1].name"},
		{"class name 101 characters", put(c.ID, keptSale, class("", long(101))), "classes[1].name"},
		{"class names equal ignoring case", put(c.ID, keptSale, class(noSaleID, "SALE", doNotCall)), "classes[1].name"},
		{"class ID not an ID", put(c.ID, keptSale, class("no-sale", "No sale", doNotCall)), "classes[1].id"},
		{"class ID unknown", put(c.ID, keptSale, class(unknown, "No sale", doNotCall)), "classes[1].id"},
		{"class ID of another campaign", put(c.ID, keptSale, class(defTree.Classes[0].ID, "No sale", doNotCall)), "classes[1].id"},
		{"class ID twice", put(c.ID, keptSale, class(saleID, "No sale", doNotCall)), "classes[1].id"},
		{"code name empty", put(c.ID, keptSale, class(noSaleID, "No sale", doNotCall, code("", ""))), "classes[1].codes[1].name"},
		{"code names equal ignoring case", put(c.ID, keptSale, class(noSaleID, "No sale", doNotCall, code("", "do NOT call"))), "classes[1].codes[1].name"},
		{"code ID unknown", put(c.ID, keptSale, class(noSaleID, "No sale", code(unknown, "Do not call"))), "classes[1].codes[0].id"},
		{"code ID of another campaign", put(c.ID, keptSale, class(noSaleID, "No sale", code(resolvedID, "Resolved"))), "classes[1].codes[0].id"},
		{"code ID twice", put(c.ID, keptSale, class(noSaleID, "No sale", code(sold.ID, "Sold again"))), "classes[1].codes[0].id"},
		{"code ID is a class ID", put(c.ID, keptSale, class(noSaleID, "No sale", code(saleID, "Odd"))), "classes[1].codes[0].id"},
		{"callback to a blacklisted number", put(c.ID, keptSale, class(noSaleID, "No sale",
			pgstore.DispositionCode{ID: doNotCall.ID, Name: "Do not call", Blacklist: true, Callback: true})), "classes[1].codes[0].blacklist"},
		{"two defaults", put(c.ID, keptSale, class(noSaleID, "No sale",
			pgstore.DispositionCode{ID: doNotCall.ID, Name: "Do not call", Blacklist: true, Default: true})), "classes[1].codes[0].default"},
		{"default code left out", put(c.ID, class(saleID, "Sale", later), keptNoSale), "classes"},
		{"default code's class left out", put(c.ID, keptNoSale), "classes"},
		{"every class left out", put(c.ID, []pgstore.DispositionClass{}...), "classes"},
		{"codes without a default", put(empty.ID, class("", "Sale", code("", "Sold"))), "classes"},

		{"resolve without code", resolve(c.ID, "Sale", ""), "dispositionCode"},
		{"resolve unknown class", resolve(c.ID, "Closed", "Sold"), "dispositionClass"},
		{"resolve class of another campaign", resolve(c.ID, defTree.Classes[0].ID, resolvedID), "dispositionClass"},
		{"resolve code of another class", resolve(c.ID, "No sale", "Sold"), "dispositionCode"},
		{"resolve code ID of another class", resolve(c.ID, noSaleID, sold.ID), "dispositionCode"},
		{"resolve code by name without class", resolve(c.ID, "", "Sold"), "dispositionClass"},
		{"resolve code ID of another campaign", resolve(c.ID, "", resolvedID), "dispositionCode"},
		{"resolve in a campaign without codes", resolve(empty.ID, "Sale", "Sold"), "dispositionClass"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantInvalid(t, tc.call(testContext(t)), tc.field)
		})
	}

	conflicts := []struct {
		name string
		call func(context.Context) error
	}{
		{"name taken ignoring case", create(pgstore.NewCampaign{Name: "WINTER"})},
		{"renamed to a taken name", update(c.ID, pgstore.CampaignUpdate{Name: ptr("empty")})},
		{"the Default campaign disabled", update(def, pgstore.CampaignUpdate{Enabled: new(bool)})},
		{"the Default campaign deleted", func(ctx context.Context) error { return store.DeleteCampaign(ctx, tid, pgstore.Actor{}, def) }},
		{"a campaign with an active interaction deleted", func(ctx context.Context) error { return store.DeleteCampaign(ctx, tid, pgstore.Actor{}, c.ID) }},
	}
	for _, tc := range conflicts {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.call(testContext(t)), pgstore.ErrConflict) })
	}
	notFound := []struct {
		name string
		call func(context.Context) error
	}{
		{"update unknown", update(unknown, pgstore.CampaignUpdate{Name: ptr("x")})},
		{"update not an ID", update("winter", pgstore.CampaignUpdate{Name: ptr("x")})},
		{"tree of an unknown campaign", put(unknown, class("", "x"))},
		{"resolve in an unknown campaign", resolve(unknown, "Sale", "Sold")},
	}
	for _, tc := range notFound {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.call(testContext(t)), pgstore.ErrNotFound) })
	}
	if after := campaignSnapshot(t, tid); after != before {
		t.Errorf("rejected writes changed data:\nbefore %s\nafter  %s", before, after)
	}

	// Once its interaction ended, the campaign may go.
	if _, err := pool.Exec(ctx, `UPDATE interactions SET status = 'abandoned', ended_at = now() WHERE tenant_id = $1 AND id = $2`, tid, in.ID); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteCampaign(ctx, tid, pgstore.Actor{}, c.ID); err != nil {
		t.Errorf("delete with only ended interactions: %v", err)
	}
	var kept string
	if err := pool.QueryRow(ctx, `SELECT campaign_id::text FROM interactions WHERE tenant_id = $1 AND id = $2`, tid, in.ID).Scan(&kept); err != nil || kept != c.ID {
		t.Errorf("the ended interaction's campaign %q, %v; history keeps the ID", kept, err)
	}
}

// A tree replacement keeps the IDs sent, creates what comes without one, deletes what
// is left out, moves codes between classes, swaps names and reorders, in one step.
func TestSetDispositions(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	c := newCampaign(t, tid, "Renewals")
	first := setTree(t, tid, c.ID, pgstore.DispositionTree{Classes: []pgstore.DispositionClass{
		{Name: "Renewed", Codes: []pgstore.DispositionCode{{Name: "One year", Success: true, Default: true}, {Name: "Two years", Success: true}}},
		{Name: "Not renewed", Codes: []pgstore.DispositionCode{{Name: "Too expensive"}, {Name: "Call later", Callback: true}}},
		{Name: "Wrong number", Codes: []pgstore.DispositionCode{{Name: "Remove", Blacklist: true}}},
	}})
	if got := shape(first); got != "Renewed{One year/s/*;Two years/s;}Not renewed{Too expensive;Call later/c;}Wrong number{Remove/b;}" {
		t.Fatalf("first tree %s", got)
	}
	if got := getTree(t, tid, c.ID); shape(got) != shape(first) || got.Classes[2].Codes[0].ID != first.Classes[2].Codes[0].ID {
		t.Errorf("read back %+v, want %+v", got, first)
	}
	camp, err := store.GetCampaign(ctx, tid, c.ID)
	if err != nil || camp.DefaultDisposition == nil || camp.DefaultDisposition.CodeID != first.Classes[0].Codes[0].ID ||
		camp.DefaultDisposition.Class != "Renewed" {
		t.Fatalf("campaign after its first tree %+v, %v", camp, err)
	}
	var stamps map[string]time.Time
	readStamps := func() map[string]time.Time {
		out := map[string]time.Time{}
		rows, err := pool.Query(ctx, `SELECT id::text, updated_at FROM disposition_classes WHERE campaign_id = $1
			UNION ALL SELECT id::text, updated_at FROM disposition_codes WHERE campaign_id = $1`, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id string
			var at time.Time
			if err := rows.Scan(&id, &at); err != nil {
				t.Fatal(err)
			}
			out[id] = at
		}
		return out
	}
	stamps = readStamps()

	renewed, notRenewed, wrong := first.Classes[0], first.Classes[1], first.Classes[2]
	oneYear, twoYears, expensive, later := renewed.Codes[0], renewed.Codes[1], notRenewed.Codes[0], notRenewed.Codes[1]
	// The two classes swap names and places, "Call later" moves to the other class
	// and is renamed, "Wrong number" goes with its code, "Two years" stays as it was,
	// a class and a code are new, and the default stays where it was without being
	// marked.
	second := setTree(t, tid, c.ID, pgstore.DispositionTree{Classes: []pgstore.DispositionClass{
		{ID: notRenewed.ID, Name: "Renewed", Codes: []pgstore.DispositionCode{
			{ID: expensive.ID, Name: "Too expensive"},
		}},
		{ID: strings.ToUpper(renewed.ID), Name: "Not renewed", Codes: []pgstore.DispositionCode{
			{ID: oneYear.ID, Name: "One year", Success: true},
			{ID: twoYears.ID, Name: "Two years", Success: true},
			{ID: later.ID, Name: "Call back", Callback: true},
		}},
		{Name: "Escalated", Codes: []pgstore.DispositionCode{{Name: "Manager"}}},
	}})
	want := "Renewed{Too expensive;}Not renewed{One year/s/*;Two years/s;Call back/c;}Escalated{Manager;}"
	if got := shape(second); got != want {
		t.Fatalf("second tree %s, want %s", got, want)
	}
	if second.Classes[0].ID != notRenewed.ID || second.Classes[1].ID != renewed.ID || second.Classes[1].Codes[2].ID != later.ID ||
		second.Classes[0].Codes[0].ID != expensive.ID || second.Classes[2].ID == "" || second.Classes[2].Codes[0].ID == "" {
		t.Errorf("IDs not kept: %+v", second)
	}
	if got := getTree(t, tid, c.ID); shape(got) != want {
		t.Errorf("read back %s", shape(got))
	}
	after := readStamps()
	if len(after) != 3+5 {
		t.Errorf("%d rows after the replacement, want 3 classes and 5 codes: %v", len(after), after)
	}
	if _, ok := after[wrong.ID]; ok {
		t.Error("the class left out is still there")
	}
	if _, ok := after[wrong.Codes[0].ID]; ok {
		t.Error("the code left out is still there")
	}
	if !after[twoYears.ID].Equal(stamps[twoYears.ID]) {
		t.Error("an unchanged code's updated_at moved")
	}
	if after[later.ID].Equal(stamps[later.ID]) || after[renewed.ID].Equal(stamps[renewed.ID]) {
		t.Error("a renamed code or class kept its updated_at")
	}

	// A new default named in the same request lets the old one go.
	third := setTree(t, tid, c.ID, pgstore.DispositionTree{Classes: []pgstore.DispositionClass{
		{ID: notRenewed.ID, Name: "Renewed", Codes: []pgstore.DispositionCode{{ID: expensive.ID, Name: "Too expensive", Default: true}}},
	}})
	if got := shape(third); got != "Renewed{Too expensive/*;}" {
		t.Errorf("third tree %s", got)
	}
	if camp, err = store.GetCampaign(ctx, tid, c.ID); err != nil || camp.DefaultDisposition == nil || camp.DefaultDisposition.CodeID != expensive.ID {
		t.Errorf("default after the third tree %+v, %v", camp.DefaultDisposition, err)
	}
	if n := auditCount(t, tid, "campaign.dispositions_set", c.ID); n != 3 {
		t.Errorf("%d campaign.dispositions_set audit rows, want 3", n)
	}
	var audited string
	if err := pool.QueryRow(ctx, `SELECT details->'classes'->0->'codes'->0->>'id' FROM audit_log
		WHERE tenant_id = $1 AND action = 'campaign.dispositions_set' ORDER BY id DESC LIMIT 1`, tid).Scan(&audited); err != nil || audited != expensive.ID {
		t.Errorf("audited code ID %q, %v", audited, err)
	}

	// Resolving: by names ignoring case, by IDs, by the code's ID alone.
	d, err := store.ResolveDisposition(ctx, tid, c.ID, "renewed", "TOO EXPENSIVE")
	if err != nil || d.ClassID != notRenewed.ID || d.CodeID != expensive.ID || d.Class != "Renewed" || d.Code != "Too expensive" || d.CampaignID != c.ID {
		t.Errorf("resolved by names %+v, %v", d, err)
	}
	if d2, err := store.ResolveDisposition(ctx, tid, c.ID, notRenewed.ID, strings.ToUpper(expensive.ID)); err != nil || d2 != d {
		t.Errorf("resolved by IDs %+v, %v", d2, err)
	}
	if d2, err := store.ResolveDisposition(ctx, tid, c.ID, "", expensive.ID); err != nil || d2 != d {
		t.Errorf("resolved by the code's ID %+v, %v", d2, err)
	}
	setTree(t, tid, c.ID, pgstore.DispositionTree{Classes: []pgstore.DispositionClass{
		{Name: "Follow-up", Codes: []pgstore.DispositionCode{{Name: "Callback", Callback: true, Success: true, Default: true}, {Name: "DNC", Blacklist: true}}},
	}})
	if d, err := store.ResolveDisposition(ctx, tid, c.ID, "Follow-up", "callback"); err != nil || !d.Callback || !d.Success || d.Blacklist {
		t.Errorf("callback flags %+v, %v", d, err)
	}
	if d, err := store.ResolveDisposition(ctx, tid, c.ID, "follow-up", "dnc"); err != nil || d.Callback || !d.Blacklist || d.Success {
		t.Errorf("blacklist flags %+v, %v", d, err)
	}
}

// Concurrent replacements of one campaign's tree, some keeping the IDs they read and
// some replacing everything, run one after the other: every read shows one whole
// tree, never a mix, and the last one stands with nothing left over.
func TestSetDispositionsConcurrently(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tid := newTenant(t).Tenant.ID
	c := newCampaign(t, tid, "Busy")

	const writers, rounds = 6, 8
	trees := make([]pgstore.DispositionTree, writers)
	valid := map[string]bool{shape(pgstore.DispositionTree{Classes: []pgstore.DispositionClass{}}): true}
	for w := range trees {
		// Writers share class and code names in other orders, so that a mix would
		// not fail on names alone.
		var classes []pgstore.DispositionClass
		for k := range 2 + w%3 {
			var codes []pgstore.DispositionCode
			for j := range 1 + (w+k)%3 {
				codes = append(codes, pgstore.DispositionCode{Name: fmt.Sprintf("Code %d", (j+w)%4), Success: w%2 == 0, Callback: j == 1})
			}
			classes = append(classes, pgstore.DispositionClass{Name: fmt.Sprintf("Class %d", (k+w)%5), Codes: codes})
		}
		classes[len(classes)-1].Codes[0].Default = true
		trees[w] = pgstore.DispositionTree{Classes: classes}
		valid[shape(trees[w])] = true
	}
	// with gives writer w's tree the IDs of cur, position by position.
	with := func(w int, cur pgstore.DispositionTree) pgstore.DispositionTree {
		out := pgstore.DispositionTree{}
		for k, class := range trees[w].Classes {
			class.Codes = append([]pgstore.DispositionCode(nil), class.Codes...)
			if k < len(cur.Classes) {
				class.ID = cur.Classes[k].ID
				for j := range class.Codes {
					if j < len(cur.Classes[k].Codes) {
						class.Codes[j].ID = cur.Classes[k].Codes[j].ID
					}
				}
			}
			out.Classes = append(out.Classes, class)
		}
		return out
	}

	var (
		wg            sync.WaitGroup
		mu            sync.Mutex
		stale, writes int
		failures      []string
		stop          = make(chan struct{})
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tree, err := store.GetDispositions(ctx, tid, c.ID)
				if err != nil {
					fail("reader %d: %v", r, err)
					return
				}
				if !valid[shape(tree)] {
					fail("reader %d saw a mixed tree: %s", r, shape(tree))
				}
			}
		}()
	}
	var writersWG sync.WaitGroup
	for w := range writers {
		writersWG.Add(1)
		go func() {
			defer writersWG.Done()
			for i := range rounds {
				tree := trees[w]
				if i%2 == 1 {
					cur, err := store.GetDispositions(ctx, tid, c.ID)
					if err != nil {
						fail("writer %d: %v", w, err)
						return
					}
					tree = with(w, cur)
				}
				got, err := store.SetDispositions(ctx, tid, pgstore.Actor{}, c.ID, tree)
				var v *pgstore.ValidationError
				switch {
				case errors.As(err, &v) && strings.HasSuffix(v.Field, ".id"):
					// The IDs it read were replaced meanwhile: a stale view, refused whole.
					mu.Lock()
					stale++
					mu.Unlock()
				case err != nil:
					fail("writer %d: %v", w, err)
					return
				case shape(got) != shape(trees[w]):
					fail("writer %d got %s back", w, shape(got))
				default:
					mu.Lock()
					writes++
					mu.Unlock()
				}
			}
		}()
	}
	writersWG.Wait()
	close(stop)
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	if writes < writers {
		t.Errorf("only %d writes succeeded (%d stale)", writes, stale)
	}
	t.Logf("%d writes, %d refused as stale", writes, stale)

	final := getTree(t, tid, c.ID)
	if !valid[shape(final)] {
		t.Fatalf("final tree %s", shape(final))
	}
	codes := 0
	for _, k := range final.Classes {
		codes += len(k.Codes)
	}
	var classRows, codeRows, defaults int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM disposition_classes WHERE campaign_id = $1),
		(SELECT count(*) FROM disposition_codes WHERE campaign_id = $1),
		(SELECT count(*) FROM campaigns c JOIN disposition_codes d ON d.id = c.default_code_id AND d.campaign_id = c.id WHERE c.id = $1)`,
		c.ID).Scan(&classRows, &codeRows, &defaults); err != nil {
		t.Fatal(err)
	}
	if classRows != len(final.Classes) || codeRows != codes || defaults != 1 {
		t.Errorf("%d class rows, %d code rows, %d defaults; the tree has %d classes and %d codes", classRows, codeRows, defaults, len(final.Classes), codes)
	}
}
