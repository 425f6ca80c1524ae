package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"switchboard/channels"
	"switchboard/pgstore"
	"switchboard/workflows"
)

// registerMacros adds macros: admins and supervisors write them; agents list the
// macros available to them and apply them to what they hold.
func (s *Server) registerMacros(v1 *echo.Group) {
	cfg := requireRole(configurers...)
	users := requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor, pgstore.RoleAgent)
	v1.POST("/macros", s.createMacro, s.authenticate, cfg)
	v1.GET("/macros", s.listMacros, s.authenticate, users)
	v1.GET("/macros/:id", s.getMacro, s.authenticate, users)
	v1.PATCH("/macros/:id", s.updateMacro, s.authenticate, cfg)
	v1.DELETE("/macros/:id", s.deleteMacro, s.authenticate, cfg)
	v1.POST("/macros/:id/duplicate", s.duplicateMacro, s.authenticate, cfg)
	v1.POST("/interactions/:id/macros/:macroId", s.applyMacro, s.authenticate, users)
}

func (s *Server) createMacro(c echo.Context) error {
	var in pgstore.NewMacro
	if err := decode(c, &in); err != nil {
		return err
	}
	m, err := s.store.CreateMacro(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, m)
}

// macroParams are the query parameters of GET /v1/macros.
var macroParams = []string{"q", "tagId", "status", "sort", "limit", "offset"}

func (s *Server) listMacros(c echo.Context) error {
	q := c.QueryParams()
	for name := range q {
		if !slices.Contains(macroParams, name) {
			return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: name,
				Message: "unknown query parameter " + name + "; known: " + strings.Join(macroParams, ", ")}
		}
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	offset, err := queryInt(c, "offset")
	if err != nil {
		return err
	}
	p := principal(c)
	f := pgstore.MacroFilter{Query: q.Get("q"), TagIDs: q["tagId"], Status: q.Get("status"), Sort: pgstore.MacroSort(q.Get("sort")),
		Limit: limit, Offset: offset}
	if p.Role == pgstore.RoleAgent {
		// Agents see the active macros they may use.
		f.AvailableTo = p.UserID
		if f.Status == "inactive" {
			return c.JSON(http.StatusOK, map[string]any{"items": []pgstore.Macro{}})
		}
		f.Status = "active"
	}
	ms, err := s.store.ListMacros(c.Request().Context(), p.TenantID, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": ms})
}

// macroFor reads a macro the caller may see: an agent only an active one available
// to them.
func (s *Server) macroFor(c echo.Context, id string) (pgstore.Macro, error) {
	p := principal(c)
	ctx := c.Request().Context()
	m, err := s.store.GetMacro(ctx, p.TenantID, id)
	if err != nil {
		return m, err
	}
	if p.Role == pgstore.RoleAgent {
		ok, err := s.store.MacroAvailable(ctx, m, p.UserID)
		if err != nil {
			return m, err
		}
		if !ok || m.Status != "active" {
			return m, errNotFound("no such macro")
		}
	}
	return m, nil
}

func (s *Server) getMacro(c echo.Context) error {
	m, err := s.macroFor(c, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

func (s *Server) updateMacro(c echo.Context) error {
	var in pgstore.MacroPatch
	if err := decode(c, &in); err != nil {
		return err
	}
	m, err := s.store.UpdateMacro(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

func (s *Server) deleteMacro(c echo.Context) error {
	if err := s.store.DeleteMacro(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) duplicateMacro(c echo.Context) error {
	m, err := s.store.DuplicateMacro(c.Request().Context(), principal(c).TenantID, actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, m)
}

// MacroStep is the result of one action of an applied macro.
type MacroStep struct {
	Index int                     `json:"index"`
	Type  pgstore.MacroActionType `json:"type"`
	// Result is done, skipped (nothing to do: a template for another channel, an
	// agent who already holds it) or failed.
	Result string `json:"result"`
	Detail string `json:"detail,omitempty"`
	// Error is why the action failed, as the API would have answered it.
	Error *Error `json:"error,omitempty"`
}

// MacroComposer is what a macro pre-fills in the agent's message composer.
type MacroComposer struct {
	// Template is the text for the conversation's channel.
	Template string `json:"template,omitempty"`
	// TemplateChannel is the channel key the template was set for.
	TemplateChannel string `json:"templateChannel,omitempty"`
	// Channel, SenderID and From are the recipient action's channel and sender.
	Channel  string `json:"channel,omitempty"`
	SenderID string `json:"senderId,omitempty"`
	From     string `json:"from,omitempty"`
}

// MacroRun is the answer of applying a macro: every action's result in order, the
// first that failed (the actions after it did not run), what the composer gets and
// the interaction as it is afterwards.
type MacroRun struct {
	MacroID     string              `json:"macroId"`
	Name        string              `json:"name"`
	Completed   bool                `json:"completed"`
	Steps       []MacroStep         `json:"steps"`
	Failed      *MacroStep          `json:"failed,omitempty"`
	Composer    *MacroComposer      `json:"composer,omitempty"`
	Interaction pgstore.Interaction `json:"interaction"`
}

// applyMacro runs a macro's actions on an interaction in order, each as the caller
// would through its own endpoint (an agent only on what they hold), and stops at the
// first that fails, which the answer reports. An agent may apply an active macro
// available to them; supervisors and admins any active macro.
func (s *Server) applyMacro(c echo.Context) error {
	p := principal(c)
	ctx := c.Request().Context()
	id := c.Param("id")
	if uuid.Validate(id) != nil {
		return errNotFound("no such interaction")
	}
	m, err := s.macroFor(c, c.Param("macroId"))
	if err != nil {
		return err
	}
	if m.Status != "active" {
		return &Error{Status: http.StatusConflict, Code: CodeActionNotAllowed, Message: "the macro is inactive"}
	}
	in, ok := s.findInteraction(ctx, p.TenantID, id)
	if !ok || (p.Role == pgstore.RoleAgent && !mine(in, p.UserID)) {
		return errNotFound("no such interaction")
	}
	run := MacroRun{MacroID: m.ID, Name: m.Name, Steps: []MacroStep{}, Interaction: in}
	who := actingAs(c)
	for i, a := range m.Actions {
		step := MacroStep{Index: i, Type: a.Type, Result: "done"}
		st, detail, skipped, err := s.macroAction(ctx, who, &run, a)
		switch {
		case err != nil:
			step.Result, step.Error = "failed", toError(err)
		case skipped:
			step.Result, step.Detail = "skipped", detail
		default:
			step.Detail = detail
		}
		if st != nil {
			run.Interaction = st.Interaction
		}
		run.Steps = append(run.Steps, step)
		if err != nil {
			run.Failed = &run.Steps[len(run.Steps)-1]
			break
		}
	}
	run.Completed = run.Failed == nil
	s.recordMacro(ctx, who, &run)
	return c.JSON(http.StatusOK, run)
}

// macroAction runs one action; it answers the interaction's state after it when it
// changed it.
func (s *Server) macroAction(ctx context.Context, who workflows.Actor, run *MacroRun, a pgstore.MacroAction) (st *workflows.InteractionState, detail string, skipped bool, err error) {
	in := run.Interaction
	update := func(name string, arg any) (*workflows.InteractionState, string, bool, error) {
		v, err := s.runUpdate(ctx, who.TenantID, in.ID, name, arg)
		if err != nil {
			return nil, "", false, err
		}
		return &v, "", false, nil
	}
	switch a.Type {
	case pgstore.MacroStatus:
		return update(workflows.ConversationStatusUpdate, workflows.ConversationStatusInput{Actor: who, Status: a.Status})
	case pgstore.MacroPriority:
		return update(workflows.PriorityUpdate, workflows.PriorityInput{Actor: who, Priority: *a.Priority})
	case pgstore.MacroForm:
		return update(workflows.FormUpdate, workflows.FormInput{Actor: who, FormID: a.FormID})
	case pgstore.MacroFormValues:
		if err := s.store.CheckFormValues(ctx, who.TenantID, a.Values); err != nil {
			return nil, "", false, err
		}
		return update(workflows.FormValuesUpdate, workflows.FormValuesInput{Actor: who, Values: a.Values})
	case pgstore.MacroSubject:
		return update(workflows.SubjectUpdate, workflows.SubjectInput{Actor: who, Subject: a.Subject})
	case pgstore.MacroTag:
		var names []string
		for _, id := range a.TagIDs {
			t, err := s.store.GetTag(ctx, who.TenantID, id)
			if errors.Is(err, pgstore.ErrNotFound) {
				return nil, "", false, invalidField("tagIds", "a conversation tag of the macro no longer exists")
			}
			if err != nil {
				return nil, "", false, err
			}
			names = append(names, t.Name)
		}
		return update(workflows.TagsUpdate, workflows.TagsInput{Actor: who, Add: names})
	case pgstore.MacroQueue:
		return update(workflows.ChangeQueueUpdate, workflows.ChangeQueueInput{TenantID: who.TenantID, ActorID: who.ActorID, AgentID: who.AgentID, QueueID: a.QueueID})
	case pgstore.MacroAssignAgent:
		if in.AgentID == a.AgentID {
			return nil, "the agent already holds it", true, nil
		}
		return update(workflows.TransferUpdate, workflows.TransferInput{Actor: who, Mode: "cold",
			Target: workflows.TransferTarget{Kind: "agent", ID: a.AgentID}, Reason: "macro " + run.Name})
	case pgstore.MacroTemplate:
		key, text := templateFor(a.Templates, in)
		if key == "" {
			return nil, "no template for this conversation's channel", true, nil
		}
		composer(run).Template, composer(run).TemplateChannel = text, key
		return nil, "template of " + key, false, nil
	case pgstore.MacroRecipient:
		sender, err := s.store.GetSender(ctx, who.TenantID, a.SenderID)
		if errors.Is(err, pgstore.ErrNotFound) {
			return nil, "", false, invalidField("senderId", "the macro's sender no longer exists")
		}
		if err != nil {
			return nil, "", false, err
		}
		cp := composer(run)
		cp.Channel, cp.SenderID, cp.From = a.Channel, sender.ID, sender.Address
		return nil, fmt.Sprintf("%s from %s", a.Channel, sender.Address), false, nil
	}
	return nil, "", false, invalidField("type", "unknown macro action "+string(a.Type))
}

// templateFor picks the template of the interaction's sub-channel, else of its
// channel; none when the macro has neither.
func templateFor(templates map[string]string, in pgstore.Interaction) (string, string) {
	if sub, ok := channels.SubChannelOf(in.Source); ok {
		if t, ok := templates[sub]; ok {
			return sub, t
		}
	}
	if t, ok := templates[string(in.Channel)]; ok {
		return string(in.Channel), t
	}
	return "", ""
}

func composer(run *MacroRun) *MacroComposer {
	if run.Composer == nil {
		run.Composer = &MacroComposer{}
	}
	return run.Composer
}

// recordMacro keeps the run in the interaction's timeline (and tells its stream);
// an interaction that ended meanwhile (a close action) keeps no record of it.
func (s *Server) recordMacro(ctx context.Context, who workflows.Actor, run *MacroRun) {
	steps := make([]string, len(run.Steps))
	for i, st := range run.Steps {
		steps[i] = string(st.Type) + " " + st.Result
	}
	st, err := s.runUpdate(ctx, who.TenantID, run.Interaction.ID, workflows.MacroAppliedUpdate,
		workflows.MacroAppliedInput{Actor: who, MacroID: run.MacroID, Name: run.Name, Steps: steps})
	if err != nil {
		s.logger.Info("macro run not recorded in the timeline", "interaction", run.Interaction.ID, "macro", run.MacroID, "error", err)
		return
	}
	run.Interaction = st.Interaction
}
