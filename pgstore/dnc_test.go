package pgstore_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/pgstore"
	"switchboard/routing"
)

func TestNormalizePhone(t *testing.T) {
	for _, tc := range []struct {
		raw, want string
		bad       bool
	}{
		{raw: "+385 1 234 5678", want: "+38512345678"},
		{raw: "  +1 (555) 010-9999 ", want: "+15550109999"},
		{raw: "555.010.9999", want: "5550109999"},
		{raw: "(01) 234-5678", want: "012345678"},
		{raw: "+3851234", want: "+3851234"},
		{raw: "112", want: "112"},
		{raw: "+123456789012345", want: "+123456789012345"},
		{raw: "1\t2 3", want: "123"},
		{raw: "", bad: true},
		{raw: "   ", bad: true},
		{raw: "12", bad: true},
		{raw: "+1", bad: true},
		{raw: "+1234567890123456", bad: true},
		{raw: "1-800-FLOWERS", bad: true},
		{raw: "+385 1 234 5678 x12", bad: true},
		{raw: "385+1234", bad: true},
		{raw: "++3851234", bad: true},
		{raw: "+0385 1234", bad: true},
		{raw: "385/1234567", bad: true},
		{raw: "١٢٣٤٥", bad: true},
		{raw: "+385 1 234 5678 +385 1 234 5678 +385 1 234 5678 +385 1 234 5678 +385", bad: true},
	} {
		got, err := pgstore.NormalizePhone(tc.raw)
		if tc.bad {
			var v *pgstore.ValidationError
			if !errors.As(err, &v) || v.Field != "phone" || v.Message == "" {
				t.Errorf("NormalizePhone(%q) = %q, %v; want a validation error on phone", tc.raw, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
	}
}

func listAll(t *testing.T, tenantID string, f pgstore.DoNotCallFilter) []pgstore.DoNotCallEntry {
	t.Helper()
	got, err := store.ListDoNotCall(testContext(t), tenantID, f)
	if err != nil {
		t.Fatalf("ListDoNotCall: %v", err)
	}
	return got
}

func phones(entries []pgstore.DoNotCallEntry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Phone
	}
	return out
}

// A number is listed once in its normalised form, whoever adds it in whatever
// form; the list reads it back with who added it and when, only in its own tenant;
// deleting it makes it callable again.
func TestDoNotCallAddCheckDelete(t *testing.T) {
	ctx := testContext(t)
	ct, other := newTenant(t), newTenant(t)
	tid := ct.Tenant.ID
	sup := newUser(t, tid, pgstore.RoleSupervisor)
	actor := pgstore.Actor{UserID: sup.ID}

	before := time.Now()
	e, created, err := store.AddDoNotCall(ctx, tid, actor, pgstore.NewDoNotCall{Phone: " +1 (555) 010-9999 ", Reason: " asked on the phone "})
	if err != nil || !created {
		t.Fatalf("AddDoNotCall = %v, %v", created, err)
	}
	if e.Phone != "+15550109999" || e.AddedBy == nil || *e.AddedBy != sup.ID || e.AddedByName == nil || *e.AddedByName != sup.Name ||
		e.Source != pgstore.DoNotCallManual || e.Reason != "asked on the phone" || e.CreatedAt.Before(before.Add(-time.Second)) {
		t.Errorf("entry = %+v", e)
	}
	again, created, err := store.AddDoNotCall(ctx, tid, pgstore.Actor{UserID: ct.Admin.ID}, pgstore.NewDoNotCall{Phone: "+15550109999", Reason: "other"})
	if err != nil || created || again.Reason != "asked on the phone" || *again.AddedBy != sup.ID || !again.CreatedAt.Equal(e.CreatedAt) {
		t.Errorf("second add = %+v, %v, %v; want the first entry unchanged", again, created, err)
	}
	for _, form := range []string{"+15550109999", "+1 555 010 9999", "+1.555.010.9999"} {
		if listed, err := store.DoNotCallListed(ctx, tid, form); err != nil || !listed {
			t.Errorf("DoNotCallListed(%q) = %v, %v", form, listed, err)
		}
	}
	if listed, err := store.DoNotCallListed(ctx, other.Tenant.ID, "+15550109999"); err != nil || listed {
		t.Errorf("listed in another tenant = %v, %v", listed, err)
	}
	if listed, err := store.DoNotCallListed(ctx, tid, "15550109999"); err != nil || listed {
		t.Errorf("the number without its + = %v, %v; numbers are compared as normalised, without guessing a country", listed, err)
	}
	if _, err := store.DoNotCallListed(ctx, tid, "call me"); !isInvalid(err, "phone") {
		t.Errorf("DoNotCallListed(letters) = %v", err)
	}
	if _, _, err := store.AddDoNotCall(ctx, tid, actor, pgstore.NewDoNotCall{Phone: "12"}); !isInvalid(err, "phone") {
		t.Errorf("two digits = %v", err)
	}
	if _, _, err := store.AddDoNotCall(ctx, tid, actor, pgstore.NewDoNotCall{Phone: "+15550100000", Reason: strings.Repeat("x", 501)}); !isInvalid(err, "reason") {
		t.Errorf("a long reason = %v", err)
	}
	if got, err := store.GetDoNotCall(ctx, tid, "+1 555 010 9999"); err != nil || got.Phone != e.Phone {
		t.Errorf("GetDoNotCall = %+v, %v", got, err)
	}
	if err := store.DeleteDoNotCall(ctx, other.Tenant.ID, pgstore.Actor{}, "+15550109999"); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("delete from another tenant = %v", err)
	}
	if err := store.DeleteDoNotCall(ctx, tid, actor, "+1 (555) 010-9999"); err != nil {
		t.Fatalf("DeleteDoNotCall: %v", err)
	}
	if listed, err := store.DoNotCallListed(ctx, tid, "+15550109999"); err != nil || listed {
		t.Errorf("listed after the delete = %v, %v", listed, err)
	}
	if err := store.DeleteDoNotCall(ctx, tid, actor, "+15550109999"); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("second delete = %v", err)
	}
	var audits int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND object_type = 'do_not_call' AND object_id = '+15550109999'`, tid).Scan(&audits); err != nil || audits != 2 {
		t.Errorf("audit entries = %d, %v; want the add and the delete", audits, err)
	}
}

func isInvalid(err error, field string) bool {
	var v *pgstore.ValidationError
	return errors.As(err, &v) && v.Field == field
}

// Adds of one number at once, in different forms, write one row: one of them
// creates it, the others answer that entry.
func TestDoNotCallConcurrentAdds(t *testing.T) {
	ctx := testContext(t)
	ct := newTenant(t)
	tid := ct.Tenant.ID
	forms := []string{"+44 20 7183 8750", "+442071838750", "+44 (20) 7183-8750", "+44.20.7183.8750"}
	const n = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		errs    []error
	)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			e, c, err := store.AddDoNotCall(ctx, tid, pgstore.Actor{UserID: ct.Admin.ID}, pgstore.NewDoNotCall{Phone: forms[i%len(forms)]})
			mu.Lock()
			defer mu.Unlock()
			if err == nil && e.Phone != "+442071838750" {
				err = fmt.Errorf("entry %+v", e)
			}
			if err != nil {
				errs = append(errs, err)
			}
			if c {
				created++
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 || created != 1 {
		t.Fatalf("%d adds: %d created, errors %v; want exactly one created and no error", n, created, errs)
	}
	var rows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM do_not_call WHERE tenant_id = $1`, tid).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("rows = %d, %v", rows, err)
	}
}

// Uploads of overlapping files at once, in different orders, list every number
// once between them and never deadlock.
func TestDoNotCallConcurrentUploads(t *testing.T) {
	ctx := testContext(t)
	ct := newTenant(t)
	tid := ct.Tenant.ID
	const numbers, uploads = 500, 4
	lines := make([]string, numbers)
	for i := range lines {
		lines[i] = fmt.Sprintf("+1 555 %07d", i)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		added int
		errs  []error
	)
	for u := range uploads {
		file := slices.Clone(lines)
		if u%2 == 1 {
			slices.Reverse(file)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := store.UploadDoNotCall(ctx, tid, pgstore.Actor{UserID: ct.Admin.ID}, []byte(strings.Join(file, "\n")), "")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			added += res.Added
			if res.Added+res.AlreadyListed != numbers {
				errs = append(errs, fmt.Errorf("result %d added + %d listed", res.Added, res.AlreadyListed))
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 || added != numbers {
		t.Fatalf("%d uploads added %d numbers, errors %v; want %d added in all", uploads, added, errs, numbers)
	}
	var rows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM do_not_call WHERE tenant_id = $1`, tid).Scan(&rows); err != nil || rows != numbers {
		t.Errorf("rows = %d, %v", rows, err)
	}
}

// An upload lists its good lines, and reports every other line by its number in the
// file: numbers that do not normalise, numbers on an earlier line, numbers already
// listed. A header and blank or comment lines are skipped, not reported.
func TestDoNotCallUploadReportsLines(t *testing.T) {
	ctx := testContext(t)
	ct := newTenant(t)
	tid := ct.Tenant.ID
	sup := newUser(t, tid, pgstore.RoleSupervisor)
	if _, _, err := store.AddDoNotCall(ctx, tid, pgstore.Actor{UserID: ct.Admin.ID}, pgstore.NewDoNotCall{Phone: "+385 1 600 0003"}); err != nil {
		t.Fatal(err)
	}
	file := "\uFEFFPhone,Name\r\n" + // 1: header
		"+385 1 600 0001,Ana\r\n" + // 2
		"\"+385 (1) 600-0002\",\"Horvat, Ivo\"\r\n" + // 3
		"+385 1 600 0003,already listed\r\n" + // 4
		"\r\n" + // 5: blank
		"# a comment\r\n" + // 6
		"call me maybe,letters\r\n" + // 7
		"+385.1.600.0001,dup of line 2\r\n" + // 8
		"12,too short\r\n" + // 9
		"+385 1 600 0004\r\n" // 10
	res, err := store.UploadDoNotCall(ctx, tid, pgstore.Actor{UserID: sup.ID}, []byte(file), "campaign opt-outs")
	if err != nil {
		t.Fatalf("UploadDoNotCall: %v", err)
	}
	if !res.HeaderSkipped || res.Numbers != 7 || res.Added != 3 || res.Invalid != 2 || res.Duplicates != 1 || res.AlreadyListed != 1 || res.ProblemsTruncated {
		t.Errorf("result = %+v", res)
	}
	type p struct {
		line    int
		problem string
	}
	var got []p
	for _, pr := range res.Problems {
		got = append(got, p{pr.Line, pr.Problem})
		if pr.Message == "" || pr.Value == "" {
			t.Errorf("problem without a message or value: %+v", pr)
		}
	}
	want := []p{{4, pgstore.UploadListed}, {7, pgstore.UploadInvalid}, {8, pgstore.UploadDuplicate}, {9, pgstore.UploadInvalid}}
	if !slices.Equal(got, want) {
		t.Errorf("problems = %v; want %v", got, want)
	}
	if v := res.Problems[0].Value; v != "+385 1 600 0003" {
		t.Errorf("listed line's value %q; want the number as written", v)
	}
	if m := res.Problems[2].Message; !strings.Contains(m, "line 2") {
		t.Errorf("duplicate message %q does not name line 2", m)
	}
	listed := listAll(t, tid, pgstore.DoNotCallFilter{Source: pgstore.DoNotCallUpload})
	if !slices.Equal(phones(listed), []string{"+38516000004", "+38516000002", "+38516000001"}) {
		t.Errorf("uploaded = %v", phones(listed))
	}
	for _, e := range listed {
		if e.AddedBy == nil || *e.AddedBy != sup.ID || e.Reason != "campaign opt-outs" {
			t.Errorf("uploaded entry = %+v", e)
		}
	}

	// A plain list, semicolon CSV and tab-separated files read the same way.
	for name, body := range map[string]string{
		"txt":       "+1 555 010 0001\n+1 555 010 0002\n",
		"semicolon": "Telefon;Ime\n+1 555 010 0003;Ana\n",
		"tab":       "+1 555 010 0004\tAna\n",
	} {
		if res, err := store.UploadDoNotCall(ctx, tid, pgstore.Actor{UserID: sup.ID}, []byte(body), ""); err != nil || res.Invalid != 0 || res.Added == 0 {
			t.Errorf("%s: %+v, %v", name, res, err)
		}
	}
}

// A file that cannot be read line by line is refused whole, naming the file: nothing
// of it is listed.
func TestDoNotCallUploadRefusesMalformedFiles(t *testing.T) {
	ctx := testContext(t)
	ct := newTenant(t)
	tid := ct.Tenant.ID
	actor := pgstore.Actor{UserID: ct.Admin.ID}
	good := "+385 1 700 0001\n+385 1 700 0002\n"
	for name, body := range map[string][]byte{
		"broken quoting": []byte(good + "\"+385 1 700 0003,unterminated\n+385 1 700 0004\n"),
		"binary":         append([]byte(good), 0x00, 0x01, 0x02, 'P', 'K'),
		"an xlsx (zip)":  []byte("PK\x03\x04\x14\x00\x06\x00" + good),
		"not UTF-8":      []byte(good + "+385 1 700 0005,\xe9t\xe9\n"),
		"empty":          {},
		"only a header":  []byte("phone\n\n"),
		"too large":      bytes.Repeat([]byte("+385 1 700 0006\n"), pgstore.MaxDoNotCallUploadBytes/16+1),
		"too many lines": []byte(strings.Repeat("1234\n", pgstore.MaxDoNotCallUploadLines+1)),
		"a stray quote":  []byte(good + "+385 1 \"700\" 0007\n"),
	} {
		_, err := store.UploadDoNotCall(ctx, tid, actor, body, "")
		if !isInvalid(err, "file") {
			t.Errorf("%s: %v; want the file refused", name, err)
		}
	}
	if got := listAll(t, tid, pgstore.DoNotCallFilter{}); len(got) != 0 {
		t.Errorf("refused files listed %v", phones(got))
	}
	var v *pgstore.ValidationError
	_, err := store.UploadDoNotCall(ctx, tid, actor, []byte(good+"\"+385 1 700 0003,x\n"), "")
	if !errors.As(err, &v) || !strings.Contains(v.Message, "line 3") {
		t.Errorf("broken quoting on line 3: %v; want the line named", err)
	}
}

// The list pages newest first and filters by number prefix, adder, source and date.
func TestDoNotCallList(t *testing.T) {
	ctx := testContext(t)
	ct := newTenant(t)
	tid := ct.Tenant.ID
	sup := newUser(t, tid, pgstore.RoleSupervisor)
	add := func(phone string, by string, at time.Time) {
		t.Helper()
		if _, _, err := store.AddDoNotCall(ctx, tid, pgstore.Actor{UserID: by}, pgstore.NewDoNotCall{Phone: phone}); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `UPDATE do_not_call SET created_at = $3 WHERE tenant_id = $1 AND phone = $2`, tid, phone, at); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	add("+38511110001", ct.Admin.ID, t0)
	add("+38511110002", sup.ID, t0.Add(time.Hour))
	add("+38521110003", sup.ID, t0.Add(2*time.Hour))
	add("+38511110004", ct.Admin.ID, t0.Add(2*time.Hour)) // same moment as …0003
	add("+44123456789", sup.ID, t0.Add(3*time.Hour))

	var pages [][]string
	f := pgstore.DoNotCallFilter{Limit: 2}
	for {
		got := listAll(t, tid, f)
		pages = append(pages, phones(got))
		if len(got) < f.Limit {
			break
		}
		f.After = got[len(got)-1].Cursor()
	}
	want := [][]string{{"+44123456789", "+38521110003"}, {"+38511110004", "+38511110002"}, {"+38511110001"}}
	if !slices.EqualFunc(pages, want, slices.Equal) {
		t.Errorf("pages = %v; want %v", pages, want)
	}
	since, until := t0.Add(time.Hour), t0.Add(3*time.Hour)
	for name, tc := range map[string]struct {
		f    pgstore.DoNotCallFilter
		want []string
	}{
		"prefix":          {pgstore.DoNotCallFilter{Phone: "+385 1"}, []string{"+38511110004", "+38511110002", "+38511110001"}},
		"added by":        {pgstore.DoNotCallFilter{AddedBy: sup.ID}, []string{"+44123456789", "+38521110003", "+38511110002"}},
		"dates":           {pgstore.DoNotCallFilter{Since: &since, Until: &until}, []string{"+38521110003", "+38511110004", "+38511110002"}},
		"prefix and user": {pgstore.DoNotCallFilter{Phone: "+3851", AddedBy: ct.Admin.ID}, []string{"+38511110004", "+38511110001"}},
		"disposition":     {pgstore.DoNotCallFilter{Source: pgstore.DoNotCallDisposition}, []string{}},
	} {
		if got := phones(listAll(t, tid, tc.f)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v; want %v", name, got, tc.want)
		}
	}
	for field, f := range map[string]pgstore.DoNotCallFilter{
		"phone":   {Phone: "abc"},
		"addedBy": {AddedBy: "me"},
		"source":  {Source: "fax"},
		"until":   {Since: &until, Until: &since},
		"after":   {After: "nonsense!"},
		"limit":   {Limit: 1000},
	} {
		if _, err := store.ListDoNotCall(ctx, tid, f); !isInvalid(err, field) {
			t.Errorf("%s: %v", field, err)
		}
	}
}

// Disposing an interaction with a blacklist code lists its customer's number, added
// by the disposing agent with the interaction named; a retry adds nothing.
func TestBlacklistInteractionCustomer(t *testing.T) {
	ctx := testContext(t)
	ct := newTenant(t)
	tid := ct.Tenant.ID
	agent := newUser(t, tid, pgstore.RoleAgent)
	q := defaultQueue(t, tid).ID
	in := newInteraction(tid, q, routing.Voice, routing.PriorityNormal, time.Now())
	in.CustomerPhone = "+385 91 555 0101"
	in = enqueue(t, in)
	chat := newInteraction(tid, q, routing.LiveChat, routing.PriorityNormal, time.Now())
	chat.CustomerPhone = ""
	chat = enqueue(t, chat)

	phone, created, err := store.BlacklistInteractionCustomer(ctx, tid, in.ID, agent.ID, "Do not call")
	if err != nil || !created || phone != "+385915550101" {
		t.Fatalf("BlacklistInteractionCustomer = %q, %v, %v", phone, created, err)
	}
	e, err := store.GetDoNotCall(ctx, tid, phone)
	if err != nil || e.Source != pgstore.DoNotCallDisposition || e.AddedBy == nil || *e.AddedBy != agent.ID || !strings.Contains(e.Reason, in.ID) {
		t.Errorf("entry = %+v, %v", e, err)
	}
	if _, created, err := store.BlacklistInteractionCustomer(ctx, tid, in.ID, agent.ID, "Do not call"); err != nil || created {
		t.Errorf("retry = %v, %v; want nothing added", created, err)
	}
	if phone, created, err := store.BlacklistInteractionCustomer(ctx, tid, chat.ID, agent.ID, "Do not call"); err != nil || created || phone != "" {
		t.Errorf("no customer phone = %q, %v, %v; want nothing to list", phone, created, err)
	}
	if _, _, err := store.BlacklistInteractionCustomer(ctx, newTenant(t).Tenant.ID, in.ID, "", "x"); !errors.Is(err, pgstore.ErrNotFound) {
		t.Errorf("another tenant's interaction = %v", err)
	}
	if got := listAll(t, tid, pgstore.DoNotCallFilter{}); len(got) != 1 {
		t.Errorf("list = %v", phones(got))
	}
}
