package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"switchboard/channels"
	"switchboard/routing"
)

// MacroActionType is what a macro action does to a conversation.
type MacroActionType string

// The macro actions.
const (
	// MacroStatus sets the conversation status (open, waiting, solved, closed).
	MacroStatus MacroActionType = "status"
	// MacroPriority sets the priority.
	MacroPriority MacroActionType = "priority"
	// MacroForm chooses the conversation form.
	MacroForm MacroActionType = "form"
	// MacroFormValues fills in form values.
	MacroFormValues MacroActionType = "formValues"
	// MacroTemplate pre-fills the agent's message composer with the template of the
	// conversation's channel (none for a channel without one).
	MacroTemplate MacroActionType = "template"
	// MacroTag adds conversation tags.
	MacroTag MacroActionType = "tag"
	// MacroAssignAgent hands the conversation to an agent.
	MacroAssignAgent MacroActionType = "assignAgent"
	// MacroSubject sets the topic or e-mail subject.
	MacroSubject MacroActionType = "subject"
	// MacroQueue moves the conversation to a queue.
	MacroQueue MacroActionType = "queue"
	// MacroRecipient pre-fills the composer's channel and sender (SMS, Viber,
	// WhatsApp and e-mail).
	MacroRecipient MacroActionType = "recipient"
)

// MacroAction is one step of a macro; the fields its type needs are set.
type MacroAction struct {
	Type     MacroActionType    `json:"type"`
	Status   ConversationStatus `json:"status,omitempty"`
	Priority *routing.Priority  `json:"priority,omitempty"`
	FormID   string             `json:"formId,omitempty"`
	// Values are form values by input field ID.
	Values map[string]json.RawMessage `json:"values,omitempty"`
	// Templates are texts by channel: a sub-channel (whatsapp, sms, web_chat,
	// email…) or a capacity channel (live_chat, live_messaging, email, voice); the
	// sub-channel's wins.
	Templates map[string]string `json:"templates,omitempty"`
	// TagIDs are conversation tags of the catalogue.
	TagIDs  []string `json:"tagIds,omitempty"`
	AgentID string   `json:"agentId,omitempty"`
	Subject string   `json:"subject,omitempty"`
	QueueID string   `json:"queueId,omitempty"`
	// Channel and SenderID are the recipient action's channel and channel sender.
	Channel  string `json:"channel,omitempty"`
	SenderID string `json:"senderId,omitempty"`
}

// Macro is a named, ordered list of actions agents apply to a conversation in one go.
type Macro struct {
	ID          string `json:"id"`
	TenantID    string `json:"tenantId"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Status: active macros are offered and applied; inactive ones are kept only.
	Status string `json:"status"`
	// Availability: all (every agent) or queues (the agents of QueueIDs).
	Availability string        `json:"availability"`
	QueueIDs     []string      `json:"queueIds"`
	TagIDs       []string      `json:"tagIds"`
	Actions      []MacroAction `json:"actions"`
	CreatedBy    string        `json:"createdBy,omitempty"`
	CreatedAt    time.Time     `json:"createdAt"`
	UpdatedAt    time.Time     `json:"updatedAt"`
}

// NewMacro is a macro to create; Status defaults to active, Availability to all.
type NewMacro struct {
	Name         string        `json:"name"`
	Description  string        `json:"description"`
	Status       string        `json:"status"`
	Availability string        `json:"availability"`
	QueueIDs     []string      `json:"queueIds"`
	TagIDs       []string      `json:"tagIds"`
	Actions      []MacroAction `json:"actions"`
}

// MacroPatch changes a macro; absent fields stay.
type MacroPatch struct {
	Name         *string        `json:"name"`
	Description  *string        `json:"description"`
	Status       *string        `json:"status"`
	Availability *string        `json:"availability"`
	QueueIDs     *[]string      `json:"queueIds"`
	TagIDs       *[]string      `json:"tagIds"`
	Actions      *[]MacroAction `json:"actions"`
}

// Limits of macros.
const (
	MaxMacroActions     = 50
	maxMacroDescription = 1000
	maxMacroTemplate    = 10000
	maxMacroRefs        = 100
)

// macroRecipientChannels are the channels whose composer a recipient action fills.
var macroRecipientChannels = []string{"sms", "viber", "whatsapp", "email"}

func (m *NewMacro) normalize() error {
	m.Name, m.Description = strings.TrimSpace(m.Name), strings.TrimSpace(m.Description)
	if err := validateFormName("name", m.Name); err != nil {
		return err
	}
	if utf8.RuneCountInString(m.Description) > maxMacroDescription {
		return invalid("description", "must be at most %d characters", maxMacroDescription)
	}
	if m.Status == "" {
		m.Status = "active"
	}
	if m.Status != "active" && m.Status != "inactive" {
		return invalid("status", "must be active or inactive")
	}
	if m.Availability == "" {
		m.Availability = "all"
	}
	switch {
	case m.Availability != "all" && m.Availability != "queues":
		return invalid("availability", "must be all or queues")
	case m.Availability == "queues" && len(m.QueueIDs) == 0:
		return invalid("queueIds", "name the queues whose agents may use the macro")
	case m.Availability == "all" && len(m.QueueIDs) > 0:
		return invalid("queueIds", "a macro for all agents names no queues")
	}
	for _, l := range []struct {
		field string
		ids   *[]string
	}{{"queueIds", &m.QueueIDs}, {"tagIds", &m.TagIDs}} {
		if len(*l.ids) > maxMacroRefs {
			return invalid(l.field, "at most %d", maxMacroRefs)
		}
		for i, id := range *l.ids {
			(*l.ids)[i] = strings.ToLower(strings.TrimSpace(id))
		}
		if err := checkIDs(l.field, *l.ids); err != nil {
			return err
		}
	}
	switch {
	case len(m.Actions) == 0:
		return invalid("actions", "a macro has at least one action")
	case len(m.Actions) > MaxMacroActions:
		return invalid("actions", "at most %d actions", MaxMacroActions)
	}
	return nil
}

// checkMacro checks the macro and its references against the tenant, in q.
func (s *Store) checkMacro(ctx context.Context, q querier, tenantID string, m *NewMacro) error {
	if err := m.normalize(); err != nil {
		return err
	}
	exists := func(sql string, args ...any) (bool, error) {
		var ok bool
		err := q.QueryRow(ctx, `SELECT EXISTS (`+sql+`)`, args...).Scan(&ok)
		return ok, err
	}
	for i, id := range m.QueueIDs {
		ok, err := exists(`SELECT 1 FROM queues WHERE tenant_id = $1 AND id = $2`, tenantID, id)
		if err != nil {
			return err
		}
		if !ok {
			return invalid(fmt.Sprintf("queueIds[%d]", i), "no such queue")
		}
	}
	for i, id := range m.TagIDs {
		ok, err := exists(`SELECT 1 FROM tags WHERE tenant_id = $1 AND id = $2 AND kind = 'macro'`, tenantID, id)
		if err != nil {
			return err
		}
		if !ok {
			return invalid(fmt.Sprintf("tagIds[%d]", i), "no such macro tag")
		}
	}
	for i := range m.Actions {
		if err := s.checkMacroAction(ctx, q, tenantID, fmt.Sprintf("actions[%d]", i), &m.Actions[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) checkMacroAction(ctx context.Context, q querier, tenantID, at string, a *MacroAction) error {
	exists := func(field, what, sql string, args ...any) error {
		var ok bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (`+sql+`)`, args...).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return invalid(at+"."+field, "no such %s in this tenant", what)
		}
		return nil
	}
	uuidOf := func(field, v string) (string, error) {
		v = strings.ToLower(strings.TrimSpace(v))
		if !isUUID(v) {
			return "", invalid(at+"."+field, "must be an ID")
		}
		return v, nil
	}
	// Only the fields of the action's type may be set.
	set := map[string]bool{"status": a.Status != "", "priority": a.Priority != nil, "formId": a.FormID != "",
		"values": a.Values != nil, "templates": a.Templates != nil, "tagIds": a.TagIDs != nil, "agentId": a.AgentID != "",
		"subject": a.Subject != "", "queueId": a.QueueID != "", "channel": a.Channel != "", "senderId": a.SenderID != ""}
	var want []string
	var err error
	switch a.Type {
	case MacroStatus:
		want = []string{"status"}
		if a.Status == ConversationSnoozed || !a.Status.Valid() {
			return invalid(at+".status", "must be open, waiting, solved or closed")
		}
	case MacroPriority:
		want = []string{"priority"}
		if a.Priority == nil || !a.Priority.Valid() {
			return invalid(at+".priority", "must be low, normal, high or urgent")
		}
	case MacroForm:
		want = []string{"formId"}
		if a.FormID, err = uuidOf("formId", a.FormID); err != nil {
			return err
		}
		if err := exists("formId", "form", `SELECT 1 FROM forms WHERE tenant_id = $1 AND id = $2`, tenantID, a.FormID); err != nil {
			return err
		}
	case MacroFormValues:
		want = []string{"values"}
		if err := s.CheckFormValues(ctx, tenantID, a.Values); err != nil {
			if v, ok := err.(*ValidationError); ok {
				return invalid(at+"."+v.Field, "%s", v.Message)
			}
			return err
		}
	case MacroTemplate:
		want = []string{"templates"}
		if len(a.Templates) == 0 {
			return invalid(at+".templates", "set a template for at least one channel")
		}
		out := map[string]string{}
		for k, v := range a.Templates {
			ch := strings.TrimSpace(k)
			if sub, ok := channels.SubChannelOf(ch); ok {
				ch = sub
			} else if !routing.Channel(ch).Valid() {
				return invalid(at+".templates."+k, "not a channel: use a sub-channel (%s) or live_chat, live_messaging, email or voice",
					strings.Join(channels.SubChannels(), ", "))
			}
			if strings.TrimSpace(v) == "" || utf8.RuneCountInString(v) > maxMacroTemplate {
				return invalid(at+".templates."+k, "a template is 1 to %d characters", maxMacroTemplate)
			}
			if _, dup := out[ch]; dup {
				return invalid(at+".templates."+k, "channel %s has two templates", ch)
			}
			out[ch] = v
		}
		a.Templates = out
	case MacroTag:
		want = []string{"tagIds"}
		if len(a.TagIDs) == 0 || len(a.TagIDs) > MaxInteractionTags {
			return invalid(at+".tagIds", "name 1 to %d conversation tags", MaxInteractionTags)
		}
		for i, id := range a.TagIDs {
			if a.TagIDs[i], err = uuidOf(fmt.Sprintf("tagIds[%d]", i), id); err != nil {
				return err
			}
			if err := exists(fmt.Sprintf("tagIds[%d]", i), "conversation tag",
				`SELECT 1 FROM tags WHERE tenant_id = $1 AND id = $2 AND kind = 'conversation'`, tenantID, a.TagIDs[i]); err != nil {
				return err
			}
		}
	case MacroAssignAgent:
		want = []string{"agentId"}
		if a.AgentID, err = uuidOf("agentId", a.AgentID); err != nil {
			return err
		}
		if err := exists("agentId", "active agent", `SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 AND role = 'agent' AND NOT disabled`,
			tenantID, a.AgentID); err != nil {
			return err
		}
	case MacroSubject:
		want = []string{"subject"}
		a.Subject = strings.TrimSpace(a.Subject)
		if a.Subject == "" {
			return invalid(at+".subject", "is required")
		}
		if err := ValidateSubject(a.Subject); err != nil {
			return invalid(at+".subject", "%s", err.(*ValidationError).Message)
		}
	case MacroQueue:
		want = []string{"queueId"}
		if a.QueueID, err = uuidOf("queueId", a.QueueID); err != nil {
			return err
		}
		if err := exists("queueId", "queue", `SELECT 1 FROM queues WHERE tenant_id = $1 AND id = $2`, tenantID, a.QueueID); err != nil {
			return err
		}
	case MacroRecipient:
		want = []string{"channel", "senderId"}
		sub, ok := channels.SubChannelOf(a.Channel)
		if !ok || !slices.Contains(macroRecipientChannels, sub) {
			return invalid(at+".channel", "must be sms, viber, whatsapp or email")
		}
		a.Channel = sub
		if a.SenderID, err = uuidOf("senderId", a.SenderID); err != nil {
			return err
		}
		if err := exists("senderId", a.Channel+" sender", `SELECT 1 FROM channel_senders WHERE tenant_id = $1 AND id = $2 AND sub_channel = $3`,
			tenantID, a.SenderID, a.Channel); err != nil {
			return err
		}
	default:
		return invalid(at+".type", "must be status, priority, form, formValues, template, tag, assignAgent, subject, queue or recipient")
	}
	for _, f := range []string{"status", "priority", "formId", "values", "templates", "tagIds", "agentId", "subject", "queueId", "channel", "senderId"} {
		if set[f] && !slices.Contains(want, f) {
			return invalid(at+"."+f, "a %s action has no %s", a.Type, f)
		}
	}
	return nil
}

const macroColumns = `m.id, m.tenant_id, m.name, coalesce(m.description, ''), m.status, m.availability, m.actions,
	coalesce(m.created_by::text, ''), m.created_at, m.updated_at,
	coalesce((SELECT array_agg(q.queue_id::text ORDER BY q.queue_id) FROM macro_queues q WHERE q.tenant_id = m.tenant_id AND q.macro_id = m.id), '{}'),
	coalesce((SELECT array_agg(t.tag_id::text ORDER BY t.tag_id) FROM macro_tags t WHERE t.tenant_id = m.tenant_id AND t.macro_id = m.id), '{}')`

func scanMacro(row pgx.Row) (Macro, error) {
	var (
		m       Macro
		actions []byte
	)
	err := row.Scan(&m.ID, &m.TenantID, &m.Name, &m.Description, &m.Status, &m.Availability, &actions, &m.CreatedBy,
		&m.CreatedAt, &m.UpdatedAt, &m.QueueIDs, &m.TagIDs)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(actions, &m.Actions); err != nil {
		return m, fmt.Errorf("actions of macro %s: %w", m.ID, err)
	}
	return m, nil
}

func (s *Store) getMacro(ctx context.Context, q querier, tenantID, id string) (Macro, error) {
	if !isUUID(tenantID) || !isUUID(id) {
		return Macro{}, translate(pgx.ErrNoRows, "macro")
	}
	m, err := scanMacro(q.QueryRow(ctx, `SELECT `+macroColumns+` FROM macros m WHERE m.tenant_id = $1 AND m.id = $2`, tenantID, id))
	return m, translate(err, "macro")
}

// GetMacro returns one macro of the tenant.
func (s *Store) GetMacro(ctx context.Context, tenantID, id string) (Macro, error) {
	return s.getMacro(ctx, s.pool, tenantID, id)
}

func writeMacroLinks(ctx context.Context, tx pgx.Tx, tenantID, id string, queues, tags []string) error {
	for _, sql := range []string{`DELETE FROM macro_queues WHERE tenant_id = $1 AND macro_id = $2`, `DELETE FROM macro_tags WHERE tenant_id = $1 AND macro_id = $2`} {
		if _, err := tx.Exec(ctx, sql, tenantID, id); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO macro_queues (tenant_id, macro_id, queue_id) SELECT $1, $2, unnest($3::uuid[])`, tenantID, id, nonNil(queues)); err != nil {
		return translate(err, "macro queues")
	}
	if _, err := tx.Exec(ctx, `INSERT INTO macro_tags (tenant_id, macro_id, tag_id) SELECT $1, $2, unnest($3::uuid[])`, tenantID, id, nonNil(tags)); err != nil {
		return translate(err, "macro tags")
	}
	return nil
}

func validateMacroText(field, v string) error {
	if strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' }) {
		return invalid(field, "must not contain control characters")
	}
	return nil
}

// CreateMacro adds a macro; names are unique in the tenant ignoring case.
func (s *Store) CreateMacro(ctx context.Context, tenantID string, actor Actor, in NewMacro) (Macro, error) {
	var out Macro
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := s.checkMacro(ctx, tx, tenantID, &in); err != nil {
			return err
		}
		if err := validateMacroText("description", in.Description); err != nil {
			return err
		}
		actions, err := json.Marshal(in.Actions)
		if err != nil {
			return err
		}
		var id string
		err = tx.QueryRow(ctx, `
			INSERT INTO macros (tenant_id, name, description, status, availability, actions, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			tenantID, in.Name, nullText(in.Description), in.Status, in.Availability, actions, nullUUID(actor.UserID)).Scan(&id)
		if err != nil {
			return translate(err, fmt.Sprintf("macro %q", in.Name))
		}
		if err := writeMacroLinks(ctx, tx, tenantID, id, in.QueueIDs, in.TagIDs); err != nil {
			return err
		}
		if out, err = s.getMacro(ctx, tx, tenantID, id); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "macro.created", "macro", id, in)
	})
	return out, err
}

// UpdateMacro changes a macro.
func (s *Store) UpdateMacro(ctx context.Context, tenantID string, actor Actor, id string, p MacroPatch) (Macro, error) {
	var out Macro
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := s.getMacro(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM macros WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id); err != nil {
			return err
		}
		n := NewMacro{Name: cur.Name, Description: cur.Description, Status: cur.Status, Availability: cur.Availability,
			QueueIDs: cur.QueueIDs, TagIDs: cur.TagIDs, Actions: cur.Actions}
		if p.Name != nil {
			n.Name = *p.Name
		}
		if p.Description != nil {
			n.Description = *p.Description
		}
		if p.Status != nil {
			n.Status = *p.Status
		}
		if p.Availability != nil {
			n.Availability = *p.Availability
			if n.Availability == "all" && p.QueueIDs == nil {
				n.QueueIDs = nil
			}
		}
		if p.QueueIDs != nil {
			n.QueueIDs = *p.QueueIDs
		}
		if p.TagIDs != nil {
			n.TagIDs = *p.TagIDs
		}
		if p.Actions != nil {
			n.Actions = *p.Actions
		}
		if err := s.checkMacro(ctx, tx, tenantID, &n); err != nil {
			return err
		}
		if err := validateMacroText("description", n.Description); err != nil {
			return err
		}
		actions, err := json.Marshal(n.Actions)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE macros SET name = $3, description = $4, status = $5, availability = $6, actions = $7, updated_at = now()
			WHERE tenant_id = $1 AND id = $2`, tenantID, id, n.Name, nullText(n.Description), n.Status, n.Availability, actions); err != nil {
			return translate(err, fmt.Sprintf("macro %q", n.Name))
		}
		if err := writeMacroLinks(ctx, tx, tenantID, id, n.QueueIDs, n.TagIDs); err != nil {
			return err
		}
		if out, err = s.getMacro(ctx, tx, tenantID, id); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "macro.updated", "macro", id, p)
	})
	return out, err
}

// DuplicateMacro copies a macro under a free name ("<name> (copy)", "(copy 2)"…).
func (s *Store) DuplicateMacro(ctx context.Context, tenantID string, actor Actor, id string) (Macro, error) {
	var out Macro
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := s.getMacro(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		name := ""
		for i := 1; ; i++ {
			suffix := " (copy)"
			if i > 1 {
				suffix = fmt.Sprintf(" (copy %d)", i)
			}
			base := cur.Name
			if r := []rune(base); len(r)+utf8.RuneCountInString(suffix) > maxFormName {
				base = string(r[:maxFormName-utf8.RuneCountInString(suffix)])
			}
			name = base + suffix
			var taken bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM macros WHERE tenant_id = $1 AND lower(name) = lower($2))`,
				tenantID, name).Scan(&taken); err != nil {
				return err
			}
			if !taken {
				break
			}
		}
		actions, err := json.Marshal(cur.Actions)
		if err != nil {
			return err
		}
		var newID string
		err = tx.QueryRow(ctx, `
			INSERT INTO macros (tenant_id, name, description, status, availability, actions, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			tenantID, name, nullText(cur.Description), cur.Status, cur.Availability, actions, nullUUID(actor.UserID)).Scan(&newID)
		if err != nil {
			return translate(err, fmt.Sprintf("macro %q", name))
		}
		if err := writeMacroLinks(ctx, tx, tenantID, newID, cur.QueueIDs, cur.TagIDs); err != nil {
			return err
		}
		if out, err = s.getMacro(ctx, tx, tenantID, newID); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "macro.duplicated", "macro", newID, map[string]string{"from": id})
	})
	return out, err
}

// DeleteMacro removes a macro.
func (s *Store) DeleteMacro(ctx context.Context, tenantID string, actor Actor, id string) error {
	if !isUUID(tenantID) || !isUUID(id) {
		return translate(pgx.ErrNoRows, "macro")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var name string
		if err := tx.QueryRow(ctx, `DELETE FROM macros WHERE tenant_id = $1 AND id = $2 RETURNING name`, tenantID, id).Scan(&name); err != nil {
			return translate(err, "macro")
		}
		return audit(ctx, tx, tenantID, actor, "macro.deleted", "macro", id, map[string]string{"name": name})
	})
}

// MacroSort orders a macro listing.
type MacroSort string

// The macro orders.
const (
	MacroNameAsc     MacroSort = "name"
	MacroNameDesc    MacroSort = "-name"
	MacroCreatedDesc MacroSort = "-createdAt"
	MacroCreatedAsc  MacroSort = "createdAt"
)

// MacroFilter selects macros.
type MacroFilter struct {
	// Query keeps macros whose name or description contains it, ignoring case.
	Query string
	// TagIDs keeps macros carrying any of these macro tags.
	TagIDs []string
	// Status keeps active or inactive macros.
	Status string
	// AvailableTo keeps the macros this agent may use: for all agents, or for a
	// queue the agent is a member of (every agent is in the Default queue).
	AvailableTo string
	Sort        MacroSort
	Limit       int
	Offset      int
}

// Validate checks the filter and sets its defaults.
func (f *MacroFilter) Validate() error {
	f.Query = strings.TrimSpace(f.Query)
	switch {
	case utf8.RuneCountInString(f.Query) > maxFormName:
		return invalid("q", "must be at most %d characters", maxFormName)
	case f.Status != "" && f.Status != "active" && f.Status != "inactive":
		return invalid("status", "must be active or inactive")
	case f.AvailableTo != "" && !isUUID(f.AvailableTo):
		return invalid("availableTo", "must be an agent ID")
	case f.Offset < 0:
		return invalid("offset", "must not be negative")
	}
	if err := checkIDs("tagId", f.TagIDs); err != nil {
		return err
	}
	switch f.Sort {
	case "":
		f.Sort = MacroNameAsc
	case MacroNameAsc, MacroNameDesc, MacroCreatedDesc, MacroCreatedAsc:
	default:
		return invalid("sort", "must be name, -name, createdAt or -createdAt")
	}
	if f.Limit == 0 {
		f.Limit = defaultPageSize
	}
	if f.Limit < 1 || f.Limit > maxPageSize {
		return invalid("limit", "must be between 1 and %d", maxPageSize)
	}
	return nil
}

// ListMacros lists the tenant's macros matching f.
func (s *Store) ListMacros(ctx context.Context, tenantID string, f MacroFilter) ([]Macro, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	order := map[MacroSort]string{
		MacroNameAsc: "lower(m.name), m.id", MacroNameDesc: "lower(m.name) DESC, m.id DESC",
		MacroCreatedDesc: "m.created_at DESC, m.id DESC", MacroCreatedAsc: "m.created_at, m.id",
	}[f.Sort]
	rows, err := s.pool.Query(ctx, `
		SELECT `+macroColumns+` FROM macros m
		WHERE m.tenant_id = $1
		  AND ($2 = '' OR strpos(lower(m.name), lower($2)) > 0 OR strpos(lower(coalesce(m.description, '')), lower($2)) > 0)
		  AND ($3 = '' OR m.status = $3)
		  AND (cardinality($4::uuid[]) = 0 OR EXISTS (SELECT 1 FROM macro_tags t WHERE t.tenant_id = m.tenant_id AND t.macro_id = m.id AND t.tag_id = ANY($4::uuid[])))
		  AND ($5::uuid IS NULL OR m.availability = 'all' OR EXISTS (
		      SELECT 1 FROM macro_queues mq JOIN queues q ON q.tenant_id = mq.tenant_id AND q.id = mq.queue_id
		      WHERE mq.tenant_id = m.tenant_id AND mq.macro_id = m.id
		        AND (q.is_default OR EXISTS (SELECT 1 FROM queue_agents qa WHERE qa.tenant_id = q.tenant_id AND qa.queue_id = q.id AND qa.user_id = $5))))
		ORDER BY `+order+` LIMIT $6 OFFSET $7`,
		tenantID, f.Query, f.Status, nonNil(f.TagIDs), nullUUID(f.AvailableTo), f.Limit, f.Offset)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Macro, error) { return scanMacro(r) })
	if out == nil {
		out = []Macro{}
	}
	return out, err
}

// MacroAvailable reports whether the agent may use the macro: it is for all agents,
// or for a queue the agent is a member of.
func (s *Store) MacroAvailable(ctx context.Context, m Macro, agentID string) (bool, error) {
	if m.Availability == "all" {
		return true, nil
	}
	var ok bool
	err := s.pool.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM queues q WHERE q.tenant_id = $1 AND q.id = ANY($2::uuid[])
		  AND (q.is_default OR EXISTS (SELECT 1 FROM queue_agents qa WHERE qa.tenant_id = q.tenant_id AND qa.queue_id = q.id AND qa.user_id = $3)))`,
		m.TenantID, nonNil(m.QueueIDs), agentID).Scan(&ok)
	return ok, err
}
