package pgstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// DispositionTree is a campaign's two-level disposition codes: classes, each with its
// codes, in the order agents see them. It is read and written whole.
type DispositionTree struct {
	Classes []DispositionClass `json:"classes"`
}

// DispositionClass is the first level of the tree: the main category of an outcome.
type DispositionClass struct {
	// ID is left out for a class to create; a class sent with its ID keeps it.
	ID    string            `json:"id,omitempty"`
	Name  string            `json:"name"`
	Codes []DispositionCode `json:"codes"`
}

// DispositionCode is the second level: the outcome itself, with what choosing it does.
type DispositionCode struct {
	// ID is left out for a code to create; a code sent with its ID keeps it, even
	// under another class.
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
	// Callback: choosing the code schedules a callback.
	Callback bool `json:"callback"`
	// Blacklist: choosing the code adds the customer's number to the do-not-call list.
	Blacklist bool `json:"blacklist"`
	// Success: the outcome counts as a success in reports.
	Success bool `json:"success"`
	// Default marks the campaign's default code, which the wrap-up timeout disposes
	// with. Exactly one code is the default once the campaign has codes.
	Default bool `json:"default"`
}

// Validate checks the tree on its own: sizes, names (unique ignoring case among the
// classes, and among the codes of a class), IDs, flags and at most one default. Which
// IDs belong to the campaign, and which code is the default when none is marked, are
// checked by SetDispositions.
func (t *DispositionTree) Validate() error {
	if t.Classes == nil {
		return invalid("classes", "is required: the campaign's classes with their codes, in order")
	}
	if len(t.Classes) > maxDispositionClasses {
		return invalid("classes", "at most %d classes", maxDispositionClasses)
	}
	ids := map[string]string{} // lower-case ID → the field that listed it first
	seenID := func(field, id string) error {
		if id == "" {
			return nil
		}
		if !isUUID(id) {
			return invalid(field, "must be an ID from GET …/dispositions, or left out for a new entry")
		}
		key := strings.ToLower(id)
		if first, ok := ids[key]; ok {
			return invalid(field, "%s is already listed as %s", id, first)
		}
		ids[key] = field
		return nil
	}
	classNames := map[string]int{}
	defaults := 0
	for i := range t.Classes {
		k := &t.Classes[i]
		at := fmt.Sprintf("classes[%d]", i)
		if err := seenID(at+".id", k.ID); err != nil {
			return err
		}
		if err := cleanName(at+".name", &k.Name, maxDispositionName); err != nil {
			return err
		}
		if j, ok := classNames[strings.ToLower(k.Name)]; ok {
			return invalid(at+".name", "%q is already the name of classes[%d]", k.Name, j)
		}
		classNames[strings.ToLower(k.Name)] = i
		if k.Codes == nil {
			k.Codes = []DispositionCode{}
		}
		if len(k.Codes) > maxDispositionCodes {
			return invalid(at+".codes", "at most %d codes per class", maxDispositionCodes)
		}
		codeNames := map[string]int{}
		for j := range k.Codes {
			d := &k.Codes[j]
			at := fmt.Sprintf("%s.codes[%d]", at, j)
			if err := seenID(at+".id", d.ID); err != nil {
				return err
			}
			if err := cleanName(at+".name", &d.Name, maxDispositionName); err != nil {
				return err
			}
			if n, ok := codeNames[strings.ToLower(d.Name)]; ok {
				return invalid(at+".name", "%q is already the name of codes[%d] of this class", d.Name, n)
			}
			codeNames[strings.ToLower(d.Name)] = j
			if d.Callback && d.Blacklist {
				return invalid(at+".blacklist", "a code cannot both schedule a callback and add the number to the do-not-call list")
			}
			if d.Default {
				defaults++
				if defaults > 1 {
					return invalid(at+".default", "only one code is the campaign's default")
				}
			}
		}
	}
	return nil
}

// codeCount is the number of codes in the tree.
func (t DispositionTree) codeCount() int {
	n := 0
	for _, k := range t.Classes {
		n += len(k.Codes)
	}
	return n
}

// GetDispositions returns a campaign's disposition tree.
func (s *Store) GetDispositions(ctx context.Context, tenantID, campaignID string) (DispositionTree, error) {
	return dispositionTree(ctx, s.pool, tenantID, campaignID)
}

// dispositionTree reads the tree in one statement, so it is never a mix of two
// versions of it, and answers ErrNotFound for a campaign the tenant does not have.
func dispositionTree(ctx context.Context, q querier, tenantID, campaignID string) (DispositionTree, error) {
	out := DispositionTree{Classes: []DispositionClass{}}
	if !isUUID(campaignID) || !isUUID(tenantID) {
		return out, translate(pgx.ErrNoRows, "campaign")
	}
	rows, err := q.Query(ctx, `
		SELECT k.id::text, k.name, d.id::text, d.name, d.callback, d.blacklist, d.success, d.id = c.default_code_id
		FROM campaigns c
		LEFT JOIN disposition_classes k ON k.tenant_id = c.tenant_id AND k.campaign_id = c.id
		LEFT JOIN disposition_codes d ON d.tenant_id = k.tenant_id AND d.campaign_id = k.campaign_id AND d.class_id = k.id
		WHERE c.tenant_id = $1 AND c.id = $2
		ORDER BY k.position, d.position`, tenantID, campaignID)
	if err != nil {
		return out, err
	}
	var (
		classID, className, codeID, codeName *string
		cb, bl, success, isDefault           *bool
		found                                bool
	)
	_, err = pgx.ForEachRow(rows, []any{&classID, &className, &codeID, &codeName, &cb, &bl, &success, &isDefault}, func() error {
		found = true
		if classID == nil {
			return nil // a campaign without classes
		}
		if n := len(out.Classes); n == 0 || out.Classes[n-1].ID != *classID {
			out.Classes = append(out.Classes, DispositionClass{ID: *classID, Name: *className, Codes: []DispositionCode{}})
		}
		if codeID != nil {
			k := &out.Classes[len(out.Classes)-1]
			k.Codes = append(k.Codes, DispositionCode{ID: *codeID, Name: *codeName, Callback: *cb, Blacklist: *bl, Success: *success,
				Default: isDefault != nil && *isDefault})
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	if !found {
		return out, translate(pgx.ErrNoRows, "campaign")
	}
	return out, nil
}

// SetDispositions replaces a campaign's disposition tree atomically: classes and codes
// sent with their ID keep it (a code may move to another class), those without one
// are created, and those left out are deleted. The default code is the one marked
// default; when none is marked the current default stays, and leaving it out is
// refused. Concurrent replacements of one campaign's tree run one after the other
// (the campaign's row lock), and readers see one tree or the other, never a mix.
func (s *Store) SetDispositions(ctx context.Context, tenantID string, actor Actor, campaignID string, in DispositionTree) (DispositionTree, error) {
	if err := in.Validate(); err != nil {
		return DispositionTree{}, err
	}
	var out DispositionTree
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		campaign, err := getCampaign(ctx, tx, tenantID, campaignID, true)
		if err != nil {
			return err
		}
		cur, err := dispositionTree(ctx, tx, tenantID, campaign.ID)
		if err != nil {
			return err
		}
		plan, err := planTree(campaign, cur, &in)
		if err != nil {
			return err
		}
		if err := plan.apply(ctx, tx, tenantID, campaign.ID); err != nil {
			return err
		}
		if err := audit(ctx, tx, tenantID, actor, "campaign.dispositions_set", "campaign", campaign.ID, in); err != nil {
			return err
		}
		out, err = dispositionTree(ctx, tx, tenantID, campaign.ID)
		return err
	})
	return out, err
}

// treePlan is the rows a tree replacement writes: every class and code of the new
// tree in order with its ID (kept or new), whether it changed, and the default code.
type treePlan struct {
	classes []planRow
	codes   []planRow
	// defaultCode is the new default, nil when the tree has no codes.
	defaultCode *string
}

type planRow struct {
	id, classID, name string
	position          int
	callback          bool
	blacklist         bool
	success           bool
	isNew, changed    bool
}

// planTree checks in against the campaign's current tree and plans the writes. It
// gives new entries their IDs in in, so the audit row records them.
func planTree(campaign Campaign, cur DispositionTree, in *DispositionTree) (treePlan, error) {
	oldClasses := map[string]DispositionClass{}
	type oldCode struct {
		DispositionCode
		classID  string
		position int
	}
	oldCodes := map[string]oldCode{}
	oldPositions := map[string]int{}
	for i, k := range cur.Classes {
		oldClasses[k.ID], oldPositions[k.ID] = k, i+1
		for j, d := range k.Codes {
			oldCodes[d.ID] = oldCode{d, k.ID, j + 1}
		}
	}

	var p treePlan
	keptDefault := false
	for i := range in.Classes {
		k := &in.Classes[i]
		row := planRow{name: k.Name, position: i + 1}
		if k.ID == "" {
			k.ID = uuid.NewString()
			row.isNew, row.changed = true, true
		} else {
			k.ID = strings.ToLower(k.ID)
			old, ok := oldClasses[k.ID]
			if !ok {
				return p, invalid(fmt.Sprintf("classes[%d].id", i), "no class %s in campaign %q: leave the ID out to create a class", k.ID, campaign.Name)
			}
			row.changed = old.Name != k.Name || oldPositions[k.ID] != row.position
		}
		row.id = k.ID
		p.classes = append(p.classes, row)
		for j := range k.Codes {
			d := &k.Codes[j]
			row := planRow{classID: k.ID, name: d.Name, position: j + 1, callback: d.Callback, blacklist: d.Blacklist, success: d.Success}
			if d.ID == "" {
				d.ID = uuid.NewString()
				row.isNew, row.changed = true, true
			} else {
				d.ID = strings.ToLower(d.ID)
				old, ok := oldCodes[d.ID]
				if !ok {
					return p, invalid(fmt.Sprintf("classes[%d].codes[%d].id", i, j), "no disposition code %s in campaign %q: leave the ID out to create a code",
						d.ID, campaign.Name)
				}
				row.changed = old.classID != k.ID || old.position != row.position || old.Name != d.Name ||
					old.Callback != d.Callback || old.Blacklist != d.Blacklist || old.Success != d.Success
				if campaign.DefaultDispositionCodeID != nil && d.ID == *campaign.DefaultDispositionCodeID {
					keptDefault = true
				}
			}
			row.id = d.ID
			p.codes = append(p.codes, row)
			if d.Default {
				id := d.ID
				p.defaultCode = &id
			}
		}
	}
	switch {
	case p.defaultCode != nil:
	case keptDefault:
		p.defaultCode = campaign.DefaultDispositionCodeID
	case campaign.DefaultDisposition != nil:
		return p, invalid("classes", "leaves out the default code %q of class %q: keep it, or mark another code \"default\": true",
			campaign.DefaultDisposition.Code, campaign.DefaultDisposition.Class)
	case in.codeCount() > 0:
		return p, invalid("classes", "a campaign with disposition codes needs a default one: mark one code \"default\": true")
	}
	// The answer marks the default whether or not the request did.
	for i := range in.Classes {
		for j := range in.Classes[i].Codes {
			d := &in.Classes[i].Codes[j]
			d.Default = p.defaultCode != nil && d.ID == *p.defaultCode
		}
	}
	return p, nil
}

// renamePrefix starts the names rows hold while a tree is rewritten: names never
// contain control characters, so no real name collides with them.
const renamePrefix = "\x01"

// apply writes the plan. Names are unique per campaign and class ignoring case, which
// an index checks at once (not at commit): every row of the campaign first takes a
// name of its own that no real name can take, so renaming "A" to "B" and "B" to "A" in
// one tree works. Positions are checked at commit.
func (p treePlan) apply(ctx context.Context, tx pgx.Tx, tenantID, campaignID string) error {
	var keptClasses, keptCodes []string
	for _, r := range p.classes {
		keptClasses = append(keptClasses, r.id)
	}
	for _, r := range p.codes {
		keptCodes = append(keptCodes, r.id)
	}
	keptClasses, keptCodes = nonNil(keptClasses), nonNil(keptCodes)
	steps := []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM disposition_codes WHERE tenant_id = $1 AND campaign_id = $2 AND NOT id = ANY($3::uuid[])`, []any{keptCodes}},
		{`UPDATE disposition_classes SET name = $3 || id::text WHERE tenant_id = $1 AND campaign_id = $2`, []any{renamePrefix}},
		{`UPDATE disposition_codes SET name = $3 || id::text WHERE tenant_id = $1 AND campaign_id = $2`, []any{renamePrefix}},
	}
	for _, st := range steps {
		if _, err := tx.Exec(ctx, st.sql, append([]any{tenantID, campaignID}, st.args...)...); err != nil {
			return err
		}
	}

	var (
		ids, classIDs, names           []string
		positions                      []int
		callbacks, blacklists, success []bool
		isNew, changed                 []bool
	)
	collect := func(rows []planRow) {
		ids, classIDs, names, positions = nil, nil, nil, nil
		callbacks, blacklists, success, isNew, changed = nil, nil, nil, nil, nil
		for _, r := range rows {
			ids, classIDs, names, positions = append(ids, r.id), append(classIDs, r.classID), append(names, r.name), append(positions, r.position)
			callbacks, blacklists, success = append(callbacks, r.callback), append(blacklists, r.blacklist), append(success, r.success)
			isNew, changed = append(isNew, r.isNew), append(changed, r.changed)
		}
	}
	collect(p.classes)
	if _, err := tx.Exec(ctx, `
		INSERT INTO disposition_classes (id, tenant_id, campaign_id, name, position)
		SELECT x.id, $1, $2, x.name, x.position FROM unnest($3::uuid[], $4::text[], $5::int[], $6::bool[]) AS x (id, name, position, is_new)
		WHERE x.is_new`, tenantID, campaignID, ids, names, positions, isNew); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `
		UPDATE disposition_classes k SET name = x.name, position = x.position,
			updated_at = CASE WHEN x.changed THEN now() ELSE k.updated_at END
		FROM unnest($3::uuid[], $4::text[], $5::int[], $6::bool[], $7::bool[]) AS x (id, name, position, is_new, changed)
		WHERE k.tenant_id = $1 AND k.campaign_id = $2 AND k.id = x.id AND NOT x.is_new`,
		tenantID, campaignID, ids, names, positions, isNew, changed); err != nil {
		return err
	}

	collect(p.codes)
	if _, err := tx.Exec(ctx, `
		INSERT INTO disposition_codes (id, tenant_id, campaign_id, class_id, name, position, callback, blacklist, success)
		SELECT x.id, $1, $2, x.class_id, x.name, x.position, x.callback, x.blacklist, x.success
		FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::int[], $7::bool[], $8::bool[], $9::bool[], $10::bool[])
			AS x (id, class_id, name, position, callback, blacklist, success, is_new)
		WHERE x.is_new`, tenantID, campaignID, ids, classIDs, names, positions, callbacks, blacklists, success, isNew); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `
		UPDATE disposition_codes d SET class_id = x.class_id, name = x.name, position = x.position,
			callback = x.callback, blacklist = x.blacklist, success = x.success,
			updated_at = CASE WHEN x.changed THEN now() ELSE d.updated_at END
		FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::int[], $7::bool[], $8::bool[], $9::bool[], $10::bool[], $11::bool[])
			AS x (id, class_id, name, position, callback, blacklist, success, is_new, changed)
		WHERE d.tenant_id = $1 AND d.campaign_id = $2 AND d.id = x.id AND NOT x.is_new`,
		tenantID, campaignID, ids, classIDs, names, positions, callbacks, blacklists, success, isNew, changed); err != nil {
		return err
	}

	// The classes left out hold no code any more: the codes kept moved out of them.
	if _, err := tx.Exec(ctx, `DELETE FROM disposition_classes WHERE tenant_id = $1 AND campaign_id = $2 AND NOT id = ANY($3::uuid[])`,
		tenantID, campaignID, keptClasses); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE campaigns SET default_code_id = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
		tenantID, campaignID, p.defaultCode)
	return err
}

// ResolveDisposition finds the disposition an interaction of the campaign is disposed
// with: the class by ID or name (ignoring case), and the code of that class by ID or
// name. The class may be left out when the code is named by its ID. A class or code
// the campaign does not have answers a ValidationError on dispositionClass or
// dispositionCode; a campaign the tenant does not have, ErrNotFound.
func (s *Store) ResolveDisposition(ctx context.Context, tenantID, campaignID, class, code string) (Disposition, error) {
	campaign, err := getCampaign(ctx, s.pool, tenantID, campaignID, false)
	if err != nil {
		return Disposition{}, err
	}
	tree, err := dispositionTree(ctx, s.pool, tenantID, campaign.ID)
	if err != nil {
		return Disposition{}, err
	}
	return resolveDisposition(campaign, tree, class, code)
}

func resolveDisposition(campaign Campaign, tree DispositionTree, classRef, codeRef string) (Disposition, error) {
	classRef, codeRef = strings.TrimSpace(classRef), strings.TrimSpace(codeRef)
	found := func(k DispositionClass, d DispositionCode) Disposition {
		return Disposition{CampaignID: campaign.ID, ClassID: k.ID, Class: k.Name, CodeID: d.ID, Code: d.Name,
			Callback: d.Callback, Blacklist: d.Blacklist, Success: d.Success}
	}
	if codeRef == "" {
		return Disposition{}, invalid("dispositionCode", "is required: a code of campaign %q by ID or name", campaign.Name)
	}
	if classRef == "" {
		if !isUUID(codeRef) {
			return Disposition{}, invalid("dispositionClass", "is required to name a code by its name")
		}
		for _, k := range tree.Classes {
			for _, d := range k.Codes {
				if strings.EqualFold(d.ID, codeRef) {
					return found(k, d), nil
				}
			}
		}
		return Disposition{}, invalid("dispositionCode", "no disposition code %s in campaign %q", codeRef, campaign.Name)
	}
	// An ID matches before a name: a class named like another class's ID is still
	// found by that ID.
	var class *DispositionClass
	for i := range tree.Classes {
		if strings.EqualFold(tree.Classes[i].ID, classRef) {
			class = &tree.Classes[i]
		}
	}
	for i := range tree.Classes {
		if class == nil && strings.EqualFold(tree.Classes[i].Name, classRef) {
			class = &tree.Classes[i]
		}
	}
	if class == nil {
		return Disposition{}, invalid("dispositionClass", "no disposition class %q in campaign %q", classRef, campaign.Name)
	}
	for _, d := range class.Codes {
		if strings.EqualFold(d.ID, codeRef) {
			return found(*class, d), nil
		}
	}
	for _, d := range class.Codes {
		if strings.EqualFold(d.Name, codeRef) {
			return found(*class, d), nil
		}
	}
	return Disposition{}, invalid("dispositionCode", "no code %q in class %q of campaign %q", codeRef, class.Name, campaign.Name)
}

// ResolveIn finds the disposition a class and code name in a campaign's tree read
// before (GetCampaign, GetDispositions), as ResolveDisposition does.
func ResolveIn(campaign Campaign, tree DispositionTree, class, code string) (Disposition, error) {
	return resolveDisposition(campaign, tree, class, code)
}
