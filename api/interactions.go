package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"switchboard/pgstore"
	"switchboard/routing"
	"switchboard/workflows"
)

// interactionCallTimeout bounds a start or an update of an interaction workflow: an
// update waits for a worker to run it.
const interactionCallTimeout = 10 * time.Second

// Error codes of interaction actions.
const (
	// CodeOfferNotOpen: no offer is open to answer (not offered yet, answered,
	// rung out or withdrawn).
	CodeOfferNotOpen = "offer_not_open"
	// CodeNotYourOffer: the interaction is offered to another agent.
	CodeNotYourOffer = "not_your_offer"
	// CodeNotYourInteraction: an agent acting on an interaction they do not hold.
	CodeNotYourInteraction = "not_your_interaction"
	// CodeInteractionOver: the interaction already ended.
	CodeInteractionOver = "interaction_over"
)

// registerInteractions adds interactions: integrations (and admins, supervisors)
// create inbound ones, which are routed and offered; agents answer offers and end
// what they hold; everyone reads what they may see.
func (s *Server) registerInteractions(v1 *echo.Group) {
	// Agents create only outbound interactions of their own (createInteraction).
	creators := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleIntegration, pgstore.RoleAgent)
	agent := requireRole(pgstore.RoleAgent)
	movers := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleAgent)
	v1.POST("/interactions", s.createInteraction, s.authenticate, creators)
	v1.GET("/interactions", s.listInteractions, s.authenticate)
	v1.GET("/interactions/:id", s.getInteraction, s.authenticate)
	v1.POST("/interactions/:id/accept", s.acceptInteraction, s.authenticate, agent)
	v1.POST("/interactions/:id/reject", s.rejectInteraction, s.authenticate, agent)
	v1.POST("/interactions/:id/end", s.endInteraction, s.authenticate)
	v1.POST("/interactions/:id/queue", s.changeInteractionQueue, s.authenticate, movers)
}

// NewInteraction is an inbound interaction as a channel or CRM reports it.
type NewInteraction struct {
	// Channel is a channel (voice, live_chat, live_messaging, email) or a
	// sub-channel (whatsapp, sms, web_chat, call…).
	Channel string `json:"channel"`
	// Direction is inbound (the default) or outbound: an agent starts it (an
	// agent themselves, or a CRM, supervisor or admin naming the agent in AgentID)
	// and it is theirs at once; To is the customer's address.
	Direction string          `json:"direction"`
	AgentID   string          `json:"agentId"`
	From      string          `json:"from"`
	To        string          `json:"to"`
	Content   string          `json:"content"`
	Tags      []string        `json:"tags"`
	IsVisitor bool            `json:"isVisitor"`
	Customer  *CustomerFields `json:"customer"`
	// RequestID makes the call idempotent: a repeat answers the interaction the
	// first call created.
	RequestID string `json:"requestId"`
	// CampaignID is the campaign the interaction belongs to (its wrap-up and
	// disposition codes); empty: the Default campaign.
	CampaignID string `json:"campaignId"`
	// Metadata is custom metadata kept with the interaction.
	Metadata map[string]string `json:"metadata"`
	// CustomerID links the customer record (by its ID or external ID) from the
	// start; without it, the tenant's journey settings may find or create one.
	CustomerID string `json:"customerId"`

	channel routing.Channel
	// media is the SIP call of an interaction a media host started (StartInboundCall).
	media *workflows.MediaCall
}

// CustomerFields identify the customer and carry the attributes routes test.
type CustomerFields struct {
	Phone string   `json:"phone"`
	Name  string   `json:"name"`
	Tags  []string `json:"tags"`
	// Attributes are standard and custom person attributes by name, tested by
	// route conditions on customer.<name>.
	Attributes map[string]string `json:"attributes"`
}

// Bounds of a new interaction's fields.
const (
	maxAddress      = 320
	maxContent      = 10000
	maxTags         = 50
	maxTag          = 100
	maxAttributes   = 100
	maxAttribute    = 1000
	maxRequestIDLen = 200
)

var (
	phoneNumber   = regexp.MustCompile(`^\+?[0-9][0-9 ().-]{1,30}$`)
	attributeName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)
)

// Validate checks the interaction and resolves its channel.
func (n *NewInteraction) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &pgstore.ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
	}
	ch, err := routing.ChannelOf(n.Channel)
	if err != nil {
		return bad("channel", "must be voice, live_chat, live_messaging, email or a sub-channel such as whatsapp, sms, web_chat")
	}
	n.channel = ch
	switch n.Direction {
	case "", string(pgstore.Inbound):
		if n.AgentID != "" {
			return bad("agentId", "is only for outbound interactions: inbound ones are routed")
		}
	case string(pgstore.Outbound):
		if strings.TrimSpace(n.To) == "" {
			return bad("to", "is required for an outbound interaction: the customer's address")
		}
		if n.AgentID != "" && uuid.Validate(n.AgentID) != nil {
			return bad("agentId", "must be an agent ID")
		}
	default:
		return bad("direction", "must be inbound or outbound")
	}
	text := func(field, v string, limit int) error {
		if utf8.RuneCountInString(v) > limit || strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' }) {
			return bad(field, "must be at most %d characters, without control characters", limit)
		}
		return nil
	}
	for _, f := range []struct {
		field, v string
		limit    int
	}{{"from", n.From, maxAddress}, {"to", n.To, maxAddress}, {"content", n.Content, maxContent}, {"requestId", n.RequestID, maxRequestIDLen}} {
		if err := text(f.field, f.v, f.limit); err != nil {
			return err
		}
	}
	tags := func(field string, tags []string) error {
		if len(tags) > maxTags {
			return bad(field, "at most %d tags", maxTags)
		}
		for i, t := range tags {
			if strings.TrimSpace(t) == "" || utf8.RuneCountInString(t) > maxTag {
				return bad(fmt.Sprintf("%s[%d]", field, i), "must be 1 to %d characters", maxTag)
			}
		}
		return nil
	}
	if err := tags("tags", n.Tags); err != nil {
		return err
	}
	n.CampaignID = strings.TrimSpace(n.CampaignID)
	if n.CampaignID != "" && uuid.Validate(n.CampaignID) != nil {
		return bad("campaignId", "must be a campaign ID")
	}
	if n.CustomerID = strings.TrimSpace(n.CustomerID); len(n.CustomerID) > 200 {
		return bad("customerId", "must be at most 200 characters")
	}
	if len(n.Metadata) > maxAttributes {
		return bad("metadata", "at most %d entries", maxAttributes)
	}
	for k, v := range n.Metadata {
		if !attributeName.MatchString(k) {
			return bad("metadata."+k, "keys are letters, digits, '_' and '-', starting with a letter or '_', at most 64")
		}
		if err := text("metadata."+k, v, maxAttribute); err != nil {
			return err
		}
	}
	if c := n.Customer; c != nil {
		c.Phone = strings.TrimSpace(c.Phone)
		if c.Phone != "" && !phoneNumber.MatchString(c.Phone) {
			return bad("customer.phone", "must be a phone number such as +385 1 234 5678")
		}
		if err := text("customer.name", c.Name, 200); err != nil {
			return err
		}
		if err := tags("customer.tags", c.Tags); err != nil {
			return err
		}
		if len(c.Attributes) > maxAttributes {
			return bad("customer.attributes", "at most %d attributes", maxAttributes)
		}
		for k, v := range c.Attributes {
			if !attributeName.MatchString(k) {
				return bad("customer.attributes."+k, "attribute names are letters, digits, '_' and '-', starting with a letter or '_', at most 64")
			}
			if err := text("customer.attributes."+k, v, maxAttribute); err != nil {
				return err
			}
		}
	}
	return nil
}

// facts are what routes test.
func (n *NewInteraction) facts() routing.Facts {
	f := routing.Facts{Channel: n.channel, Source: n.Channel, From: n.From, To: n.To, Content: n.Content, Tags: n.Tags, IsVisitor: n.IsVisitor}
	if c := n.Customer; c != nil {
		f.Customer = map[string]string{}
		for k, v := range c.Attributes {
			f.Customer[k] = v
		}
		if _, ok := f.Customer["phone"]; !ok && c.Phone != "" {
			f.Customer["phone"] = c.Phone
		}
		if _, ok := f.Customer["name"]; !ok && c.Name != "" {
			f.Customer["name"] = c.Name
		}
		f.CustomerTags = c.Tags
	}
	return f
}

// customerPhone is the customer's phone: given, or the caller's number on channels
// that come from a phone number.
func (n *NewInteraction) customerPhone() string {
	if n.Customer != nil && n.Customer.Phone != "" {
		return n.Customer.Phone
	}
	customer := n.From
	if n.Direction == string(pgstore.Outbound) {
		customer = n.To
	}
	if (n.channel == routing.Voice || n.channel == routing.LiveMessaging) && phoneNumber.MatchString(strings.TrimSpace(customer)) {
		return strings.TrimSpace(customer)
	}
	return ""
}

// customerKey identifies the customer for the sticky-agent rule: the phone number's
// digits (so "+385 1 234" and "+3851234" are one customer), else the address.
func customerKey(phone, from string) string {
	if phone != "" {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' || r == '+' {
				return r
			}
			return -1
		}, phone)
	}
	return strings.ToLower(strings.TrimSpace(from))
}

func (s *Server) createInteraction(c echo.Context) error {
	var in NewInteraction
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := in.Validate(); err != nil {
		return err
	}
	view, created, err := s.startInteraction(c.Request().Context(), principal(c), &in)
	if err != nil {
		return err
	}
	if !created {
		return c.JSON(http.StatusOK, view)
	}
	return c.JSON(http.StatusCreated, view)
}

// startInteraction starts the workflow of a validated new interaction for the caller p.
// created is false when the request ID repeats an earlier call: view is then the
// interaction that call created.
func (s *Server) startInteraction(ctx context.Context, p pgstore.Principal, in *NewInteraction) (view pgstore.Interaction, created bool, err error) {
	if in.CampaignID != "" {
		if _, err := s.store.GetCampaign(ctx, p.TenantID, in.CampaignID); errors.Is(err, pgstore.ErrNotFound) {
			return view, false, invalidField("campaignId", "no such campaign")
		} else if err != nil {
			return view, false, err
		}
	}
	var dec routing.Decision
	direction := pgstore.Inbound
	if p.Role == pgstore.RoleAgent && in.Direction != string(pgstore.Outbound) {
		return view, false, &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: "agents create outbound interactions only; inbound ones come from channels and integrations"}
	}
	if in.Direction == string(pgstore.Outbound) {
		direction = pgstore.Outbound
		if first, err := s.refuseDoNotCall(ctx, p, in); err != nil || first != nil {
			if first != nil {
				return *first, false, nil
			}
			return view, false, err
		}
		if err := s.outboundAgent(ctx, p, in); err != nil {
			return view, false, err
		}
		dec, err = s.outboundQueue(ctx, p.TenantID, in.CampaignID)
	} else {
		dec, err = s.route(ctx, p.TenantID, in)
	}
	if err != nil {
		return view, false, err
	}
	queueID := dec.QueueID
	if dec.Default {
		// routing names the fallback; the tenant's Default queue has a UUID.
		if queueID, err = s.store.DefaultQueueID(ctx, p.TenantID); err != nil {
			return view, false, err
		}
	}
	id := uuid.NewString()
	if in.RequestID != "" {
		// The same request ID of the same tenant always names the same interaction,
		// and Temporal refuses a second workflow with its ID.
		id = uuid.NewSHA1(uuid.MustParse(p.TenantID), []byte(in.RequestID)).String()
	}
	phone := in.customerPhone()
	var name string
	if in.Customer != nil {
		name = strings.TrimSpace(in.Customer.Name)
	}
	customerAddress := in.From
	if direction == pgstore.Outbound {
		customerAddress = in.To
	}
	customerID, err := s.interactionCustomer(ctx, p.TenantID, in, direction, phone, name)
	if err != nil {
		return view, false, err
	}
	var outside *workflows.OutsideHours
	if direction == pgstore.Inbound {
		if outside, err = s.outsideHours(ctx, p.TenantID, queueID, in.channel, time.Now()); err != nil {
			return view, false, err
		}
	}
	var waiting *pgstore.WaitingStrategySettings
	if direction == pgstore.Inbound && outside == nil && in.channel != routing.Voice && in.AgentID == "" {
		// The waiting strategy of the sender the customer wrote to; without it the
		// conversation waits as usual.
		if waiting, err = s.store.WaitingStrategyFor(ctx, p.TenantID, in.Channel, in.To); err != nil {
			s.logger.Warn("waiting strategy not read; the conversation waits without it", "tenant_id", p.TenantID, "interaction", id, "error", err)
			waiting = nil
		}
	}
	// The conversation form its facts choose; without it the default form shows.
	formID, err := s.store.ChooseForm(ctx, p.TenantID, in.facts())
	if err != nil {
		s.logger.Warn("conversation form not chosen; the default form shows", "tenant_id", p.TenantID, "interaction", id, "error", err)
		formID = ""
	}
	if direction == pgstore.Outbound && in.channel == routing.Voice && in.media == nil {
		in.media = s.outboundCall(ctx, p.TenantID, in.AgentID, id)
	}
	wf := workflows.InteractionInput{
		TenantID: p.TenantID, ID: id, Channel: in.channel, Source: strings.TrimSpace(in.Channel), Direction: direction, AgentID: in.AgentID,
		From: in.From, To: in.To, CustomerPhone: phone, Customer: customerKey(phone, customerAddress), CustomerName: name,
		Tags: in.Tags, QueueID: queueID, RouteID: dec.RouteID, Priority: dec.Priority, RequiredSkills: dec.RequiredSkills,
		CampaignID: in.CampaignID, Metadata: in.Metadata, CustomerID: customerID, CreatedAt: time.Now().UTC(),
		OutsideHours: outside, Waiting: waiting, Media: in.media, FormID: formID,
	}
	if in.channel != routing.Voice {
		// What the conversation's SLA policies test when its clock starts.
		facts := in.facts()
		wf.Facts = &facts
	}
	attrs := []temporal.SearchAttributeUpdate{
		workflows.InteractionIDKey.ValueSet(id), workflows.TenantIDKey.ValueSet(p.TenantID),
		workflows.ChannelKey.ValueSet(string(in.channel)), workflows.DirectionKey.ValueSet(string(direction)),
		workflows.QueueIDKey.ValueSet(queueID), workflows.StatusKey.ValueSet(string(pgstore.InteractionQueued)),
	}
	if phone != "" {
		attrs = append(attrs, workflows.CustomerPhoneKey.ValueSet(phone))
	}
	sctx, cancel := context.WithTimeout(ctx, interactionCallTimeout)
	defer cancel()
	_, err = s.temporal.ExecuteWorkflow(sctx, client.StartWorkflowOptions{
		ID:                    workflows.InteractionWorkflowID(id),
		TaskQueue:             workflows.TaskQueue,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		// A repeated request ID must be told apart from a new interaction.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(attrs...),
		// Where a worker shares this client (switchboard dev), the start returns the
		// first workflow task to it directly instead of through the task queue; a
		// separate API process starts the ordinary way.
		EnableEagerStart: true,
	}, workflows.Interaction, wf)
	view = interactionOf(wf)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started) && in.RequestID != "":
		// A repeat: answer what the first call created.
		if first, ok := s.findInteraction(ctx, p.TenantID, id); ok {
			view = first
		}
		return view, false, nil
	case err != nil:
		s.logger.Error("interaction workflow not started", "interaction", id, "error", err)
		return view, false, &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the interaction could not be started (Temporal did not answer); send it again with the same requestId"}
	}
	return view, true, nil
}

// interactionOf is the interaction as created, before its workflow wrote anything.
func interactionOf(in workflows.InteractionInput) pgstore.Interaction {
	return pgstore.Interaction{
		ID: in.ID, TenantID: in.TenantID, WorkflowID: workflows.InteractionWorkflowID(in.ID), Channel: in.Channel,
		Source: in.Source, Direction: in.Direction, From: in.From, To: in.To, CustomerPhone: in.CustomerPhone,
		Customer: in.Customer, CustomerName: in.CustomerName, Tags: nonNilStrings(in.Tags), QueueID: in.QueueID,
		RouteID: in.RouteID, Priority: in.Priority, RequiredSkills: nonNilStrings(in.RequiredSkills),
		CampaignID: in.CampaignID, Metadata: in.Metadata, FormID: in.FormID,
		InteractionState: pgstore.InteractionState{Status: pgstore.InteractionQueued, ExcludedAgents: []string{},
			Participants: []pgstore.Participant{}, QueuedAt: in.CreatedAt, CustomerID: in.CustomerID},
		CreatedAt: in.CreatedAt, UpdatedAt: in.CreatedAt,
	}
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// findInteraction reads an interaction of the tenant: from the read model, or, when
// its workflow has not written it yet, from the workflow's query.
func (s *Server) findInteraction(ctx context.Context, tenantID, id string) (pgstore.Interaction, bool) {
	in, err := s.store.GetInteraction(ctx, tenantID, id)
	if err == nil {
		return in, true
	}
	if !errors.Is(err, pgstore.ErrNotFound) {
		s.logger.Warn("read model unavailable", "interaction", id, "error", err)
	}
	qctx, cancel := context.WithTimeout(ctx, totalsQueryTimeout)
	defer cancel()
	res, err := s.temporal.QueryWorkflow(qctx, workflows.InteractionWorkflowID(id), "", workflows.InteractionQuery)
	var st workflows.InteractionState
	if err == nil {
		err = res.Get(&st)
	}
	if err != nil || st.TenantID != tenantID {
		return pgstore.Interaction{}, false
	}
	return st.Interaction, true
}

// interactionDetail is one interaction with its offers (for supervisors).
type interactionDetail struct {
	pgstore.Interaction
	Offers []pgstore.Offer `json:"offers,omitempty"`
}

// mine reports whether the agent may see the interaction: it is offered to them or
// they hold (or held) it.
func mine(in pgstore.Interaction, agentID string) bool {
	return in.AgentID == agentID || in.OfferedAgentID == agentID
}

func (s *Server) getInteraction(c echo.Context) error {
	p := principal(c)
	ctx := c.Request().Context()
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil {
		return errNotFound("no such interaction")
	}
	in, ok := s.findInteraction(ctx, p.TenantID, id)
	if !ok || (p.Role == pgstore.RoleAgent && !mine(in, p.UserID)) {
		return errNotFound("no such interaction")
	}
	out := interactionDetail{Interaction: in}
	if p.Role != pgstore.RoleAgent {
		offers, err := s.store.InteractionOffers(ctx, p.TenantID, id)
		if err != nil {
			return err
		}
		out.Offers = offers
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) listInteractions(c echo.Context) error {
	pg, err := page(c)
	if err != nil {
		return err
	}
	p := principal(c)
	f := pgstore.InteractionFilter{
		Status: pgstore.InteractionStatus(c.QueryParam("status")), AgentID: c.QueryParam("agentId"),
		QueueID: c.QueryParam("queueId"), Page: pg,
	}
	if f.AgentID == "me" {
		f.AgentID = p.UserID
	}
	if p.Role == pgstore.RoleAgent {
		if f.AgentID != "" && f.AgentID != p.UserID {
			return errForbidden("agents list only their own interactions")
		}
		f.AgentID = p.UserID
	}
	items, err := s.store.ListInteractions(c.Request().Context(), p.TenantID, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(items, pg.Limit, func(in pgstore.Interaction) string { return in.ID }))
}

// answerRequest is the optional body of a rejection (and of an end).
type answerRequest struct {
	Reason string `json:"reason"`
}

func (r *answerRequest) validate() error {
	r.Reason = strings.TrimSpace(r.Reason)
	if utf8.RuneCountInString(r.Reason) > 500 {
		return &pgstore.ValidationError{Field: "reason", Message: "must be at most 500 characters"}
	}
	return nil
}

func (s *Server) acceptInteraction(c echo.Context) error {
	p := principal(c)
	return s.updateInteraction(c, workflows.AcceptUpdate, workflows.AcceptInput{TenantID: p.TenantID, AgentID: p.UserID})
}

func (s *Server) rejectInteraction(c echo.Context) error {
	var in answerRequest
	if err := decodeOptional(c, &in); err != nil {
		return err
	}
	if err := in.validate(); err != nil {
		return err
	}
	p := principal(c)
	return s.updateInteraction(c, workflows.RejectUpdate, workflows.RejectInput{TenantID: p.TenantID, AgentID: p.UserID, Reason: in.Reason})
}

func (s *Server) endInteraction(c echo.Context) error {
	var in answerRequest
	if err := decodeOptional(c, &in); err != nil {
		return err
	}
	if err := in.validate(); err != nil {
		return err
	}
	p := principal(c)
	end := workflows.EndInput{TenantID: p.TenantID, ActorID: p.UserID, Reason: in.Reason}
	if p.Role == pgstore.RoleAgent {
		end.AgentID = p.UserID
		if err := s.checkEndForm(c); err != nil {
			return err
		}
	}
	return s.updateInteraction(c, workflows.EndUpdate, end)
}

// queueChange is the body of a queue change.
type queueChange struct {
	QueueID string `json:"queueId"`
}

// changeInteractionQueue moves an interaction to another queue: its agent keeps it
// when they work the new queue, otherwise it is offered there. The queue is checked
// here, so an unknown one never reaches the workflow; the workflow checks it again
// as it moves, against a queue deleted meanwhile.
func (s *Server) changeInteractionQueue(c echo.Context) error {
	var in queueChange
	if err := decode(c, &in); err != nil {
		return err
	}
	in.QueueID = strings.TrimSpace(in.QueueID)
	if in.QueueID == "" {
		return &pgstore.ValidationError{Field: "queueId", Message: "is required"}
	}
	if _, err := uuid.Parse(c.Param("id")); err != nil {
		return errNotFound("no such interaction")
	}
	p := principal(c)
	if _, err := s.store.GetAssignmentQueue(c.Request().Context(), p.TenantID, in.QueueID); err != nil {
		if errors.Is(err, pgstore.ErrNotFound) {
			return errUnknownQueue()
		}
		return err
	}
	move := workflows.ChangeQueueInput{TenantID: p.TenantID, ActorID: p.UserID, QueueID: in.QueueID}
	if p.Role == pgstore.RoleAgent {
		move.AgentID = p.UserID
	}
	return s.updateInteraction(c, workflows.ChangeQueueUpdate, move)
}

func errUnknownQueue() *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: "queueId", Message: "no such queue"}
}

// updateInteraction runs an update of the interaction workflow and answers its
// result, or its refusal in the documented error format.
func (s *Server) updateInteraction(c echo.Context, name string, arg any) error {
	st, err := s.runUpdate(c.Request().Context(), principal(c).TenantID, c.Param("id"), name, arg)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st.Interaction)
}

// runUpdate runs the update name of interaction id and waits for its result.
func (s *Server) runUpdate(ctx context.Context, tenantID, id, name string, arg any) (workflows.InteractionState, error) {
	var st workflows.InteractionState
	if _, err := uuid.Parse(id); err != nil {
		return st, errNotFound("no such interaction")
	}
	uctx, cancel := context.WithTimeout(ctx, interactionCallTimeout)
	defer cancel()
	// One update ID for every attempt: the server runs an update once per ID, so a
	// repeat after an aborted attempt cannot apply the action twice.
	opts := client.UpdateWorkflowOptions{
		UpdateID:   uuid.NewString(),
		WorkflowID: workflows.InteractionWorkflowID(id), UpdateName: name, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	}
	var err error
	for {
		var h client.WorkflowUpdateHandle
		h, err = s.temporal.UpdateWorkflow(uctx, opts)
		if err == nil {
			err = h.Get(uctx, &st)
		}
		// The server aborts an update whose workflow task failed or timed out before
		// the workflow accepted it (a worker held up past the task's timeout): the
		// update was not applied, and trying again is what the server asks for.
		var unavailable *serviceerror.Unavailable
		if !errors.As(err, &unavailable) || uctx.Err() != nil {
			break
		}
		select {
		case <-uctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err != nil {
		return st, s.interactionError(ctx, tenantID, id, err)
	}
	return st, nil
}

// interactionError maps a refused or failed update to an API error.
func (s *Server) interactionError(ctx context.Context, tenantID, id string, err error) error {
	var app *temporal.ApplicationError
	var notFound *serviceerror.NotFound
	var timeout *client.WorkflowUpdateServiceTimeoutOrCanceledError
	switch {
	case errors.As(err, &app):
		switch app.Type() {
		case workflows.ErrTypeInteractionNotFound:
			return errNotFound("no such interaction")
		case workflows.ErrTypeNotYourOffer:
			return &Error{Status: http.StatusForbidden, Code: CodeNotYourOffer, Message: app.Message()}
		case workflows.ErrTypeNotYourInteraction:
			return &Error{Status: http.StatusForbidden, Code: CodeNotYourInteraction, Message: app.Message()}
		case workflows.ErrTypeOfferNotOpen:
			return &Error{Status: http.StatusConflict, Code: CodeOfferNotOpen, Message: app.Message()}
		case workflows.ErrTypeInteractionOver:
			return &Error{Status: http.StatusConflict, Code: CodeInteractionOver, Message: app.Message()}
		case workflows.ErrTypeUnknownQueue:
			return errUnknownQueue()
		}
		if e, ok := lifecycleError(app); ok {
			return e
		}
	case errors.As(err, &notFound):
		// No such workflow, or it completed: the read model tells which.
		if in, gerr := s.store.GetInteraction(ctx, tenantID, id); gerr == nil && !in.Status.Active() {
			return &Error{Status: http.StatusConflict, Code: CodeInteractionOver, Message: fmt.Sprintf("the interaction is already %s", in.Status)}
		}
		return errNotFound("no such interaction")
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusGatewayTimeout, Code: CodeTimeout, Message: "no worker answered in time; try again"}
	}
	s.logger.Error("interaction update failed", "interaction", id, "error", err)
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the interaction did not answer; try again"}
}

// offerWaiting gives an agent who just became available the waiting interactions
// they should take (bulk assignment): each is reserved for the agent, in priority then
// age order, and woken. Failures are logged: a waiting interaction also looks again by
// itself.
func (s *Server) offerWaiting(ctx context.Context, tenantID, agentID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), temporalCallTimeout)
	defer cancel()
	if _, err := s.dispatch.OfferWaiting(ctx, tenantID, agentID, s.wake); err != nil {
		s.logger.Warn("bulk assignment incomplete", "agent", agentID, "error", err)
	}
}

// route runs the tenant's routes over an inbound interaction.
func (s *Server) route(ctx context.Context, tenantID string, in *NewInteraction) (routing.Decision, error) {
	routes, err := s.store.ListRoutes(ctx, tenantID)
	if err != nil {
		return routing.Decision{}, err
	}
	rules := make([]routing.Route, len(routes))
	for i, r := range routes {
		rules[i] = r.Rule()
	}
	return routing.RouteInteraction(in.facts(), rules), nil
}

// outboundQueue is where an outbound interaction is counted: its campaign's default
// queue, else the Default queue.
func (s *Server) outboundQueue(ctx context.Context, tenantID, campaignID string) (routing.Decision, error) {
	if campaignID != "" {
		c, err := s.store.GetCampaign(ctx, tenantID, campaignID)
		if err != nil {
			return routing.Decision{}, err
		}
		if c.DefaultQueueID != nil {
			return routing.Decision{QueueID: *c.DefaultQueueID}, nil
		}
	}
	return routing.Decision{Default: true}, nil
}

// outboundAgent settles who starts an outbound interaction: an agent starts their
// own; others name a logged-in agent of the tenant.
func (s *Server) outboundAgent(ctx context.Context, p pgstore.Principal, in *NewInteraction) error {
	switch {
	case p.Role == pgstore.RoleAgent && in.AgentID != "" && in.AgentID != p.UserID:
		return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: "agents start outbound interactions of their own only"}
	case p.Role == pgstore.RoleAgent:
		in.AgentID = p.UserID
	case in.AgentID == "":
		return invalidField("agentId", "is required: the agent who makes the outbound interaction")
	default:
		u, err := s.store.GetUser(ctx, p.TenantID, in.AgentID)
		if errors.Is(err, pgstore.ErrNotFound) || (err == nil && (u.Role != pgstore.RoleAgent || u.Disabled)) {
			return invalidField("agentId", "no such active agent")
		}
		if err != nil {
			return err
		}
	}
	pr, err := s.presence.Get(ctx, p.TenantID, in.AgentID)
	if err != nil {
		return err
	}
	if !pr.LoggedIn || pr.Expired {
		return &Error{Status: http.StatusConflict, Code: CodeNotLoggedIn, Message: "the agent is not logged in"}
	}
	return nil
}
