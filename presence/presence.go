package presence

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"switchboard/routing"
)

// Presence is an agent's presence as routing and desktops see it.
type Presence struct {
	Agent string `json:"agent"`
	// Session identifies one login; it changes on every new login (not on a
	// resumed one) and only grows. Zero means the agent never logged in.
	Session int64 `json:"session,omitempty"`
	// LoggedIn: a session is open and its heartbeat is live.
	LoggedIn bool `json:"loggedIn"`
	// Expired: a session is open but its heartbeat lapsed; the agent is
	// treated as logged out and waits for LogoutExpired.
	Expired bool `json:"expired,omitempty"`
	// Status is the effective status: the chosen one while LoggedIn,
	// otherwise Offline (Unavailable group), so that routing on Status.Group
	// can never offer work to an absent agent.
	Status   routing.Status     `json:"status"`
	Voice    routing.VoiceState `json:"voice,omitempty"`
	Campaign string             `json:"campaign,omitempty"`
	// ChangedAt is the last status change (login, status change, logout).
	ChangedAt   time.Time `json:"changedAt"`
	LoginAt     time.Time `json:"loginAt"`
	HeartbeatAt time.Time `json:"heartbeatAt"`
	// ExpiresAt is when the session lapses without another heartbeat.
	ExpiresAt time.Time `json:"expiresAt"`
	// LastAssignedAt is the last Confirm for this agent (zero: never).
	LastAssignedAt time.Time `json:"lastAssignedAt"`
	// At is the Redis server time of the read.
	At time.Time `json:"at"`
}

// offline is the status of an agent without a live session.
func offline() routing.Status {
	return routing.Status{Name: routing.StatusOffline, Group: routing.GroupUnavailable, System: true}
}

// parsePresence decodes the presence fields (presenceFields order) read at
// server time nowMS. Liveness is decided here exactly as in the scripts:
// live while deadline > now.
func parsePresence(agent string, nowMS int64, f []any) Presence {
	get := func(i int) string {
		if i < len(f) {
			return str(f[i])
		}
		return ""
	}
	session, _ := strconv.ParseInt(get(1), 10, 64)
	deadline := ms(get(9))
	p := Presence{
		Agent:          agent,
		Session:        session,
		Voice:          routing.VoiceState(get(4)),
		Campaign:       get(5),
		ChangedAt:      timeOf(ms(get(6))),
		LoginAt:        timeOf(ms(get(7))),
		HeartbeatAt:    timeOf(ms(get(8))),
		ExpiresAt:      timeOf(deadline),
		LastAssignedAt: timeOf(ms(get(10))),
		At:             timeOf(nowMS),
		Status:         offline(),
	}
	chosen := routing.Status{Name: get(2), Group: routing.StatusGroup(get(3))}
	for _, d := range routing.DefaultStatuses() { // System is not stored: it follows from name and group
		if d.Name == chosen.Name && d.Group == chosen.Group {
			chosen.System = true
		}
	}
	if get(0) == "1" {
		if deadline > nowMS && chosen.Group.Valid() {
			p.LoggedIn = true
			p.Status = chosen
		} else {
			p.Expired = deadline <= nowMS
		}
	}
	return p
}

// scriptReply is the standard reply of the presence scripts:
// {code, a, b, now, fields...}.
type scriptReply struct {
	code string
	a, b string
	p    Presence
}

// runPresence runs one of the presence scripts for agent and decodes its reply.
func (s *Store) runPresence(ctx context.Context, op, agent string, sc *redis.Script, keys []string, args ...any) (scriptReply, error) {
	res, err := sc.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return scriptReply{}, fmt.Errorf("presence: %s agent %s: %w", op, agent, err)
	}
	if len(res) < 4 {
		return scriptReply{}, fmt.Errorf("presence: %s agent %s: short reply %v", op, agent, res)
	}
	return scriptReply{
		code: str(res[0]),
		a:    str(res[1]),
		b:    str(res[2]),
		p:    parsePresence(agent, ms(res[3]), res[4:]),
	}, nil
}

// LoginInput is what an agent chooses when logging in.
type LoginInput struct {
	// Status is the status to start in; the zero value means Available.
	Status   routing.Status `json:"status"`
	Campaign string         `json:"campaign,omitempty"`
}

// Validate checks the input.
func (in LoginInput) Validate() error {
	if in.Status == (routing.Status{}) {
		return nil
	}
	return checkStatus(in.Status)
}

func checkStatus(st routing.Status) error {
	switch {
	case strings.TrimSpace(st.Name) == "":
		return fmt.Errorf("%w: status name is empty", ErrInvalid)
	case len(st.Name) > 4*routing.MaxStatusNameLength:
		return fmt.Errorf("%w: status name is too long", ErrInvalid)
	case !st.Group.Valid():
		return fmt.Errorf("%w: unknown status group %q", ErrInvalid, st.Group)
	}
	return nil
}

// Lapse is a session whose heartbeat expired without a logout.
type Lapse struct {
	Agent   string `json:"agent"`
	Session int64  `json:"session"`
	// ExpiredAt is the heartbeat deadline that passed: when the agent
	// stopped being present, which is what reports should record.
	ExpiredAt time.Time `json:"expiredAt"`
}

// LoginResult is the outcome of Login.
type LoginResult struct {
	Presence Presence `json:"presence"`
	// Resumed: the agent already had a live session, which continues (same
	// Session) with the new status and campaign.
	Resumed bool `json:"resumed,omitempty"`
	// Lapsed is the earlier session this login replaced because its
	// heartbeat had expired; the caller records it as logged out at
	// Lapsed.ExpiredAt. Once replaced it no longer appears in Expired.
	Lapsed *Lapse `json:"lapsed,omitempty"`
}

// Login opens a session for the agent (or resumes a live one) and starts its
// heartbeat clock.
func (s *Store) Login(ctx context.Context, tenant, agent string, in LoginInput) (LoginResult, error) {
	k, err := s.agentKeys(tenant, agent)
	if err != nil {
		return LoginResult{}, err
	}
	if err := in.Validate(); err != nil {
		return LoginResult{}, err
	}
	st := in.Status
	if st == (routing.Status{}) {
		st = routing.Status{Name: routing.StatusAvailable, Group: routing.GroupAvailable}
	}
	r, err := s.runPresence(ctx, "login", agent, loginScript,
		[]string{k.agent(agent), k.alive(), k.agents(), k.slots(agent), k.ready()},
		agent, st.Name, string(st.Group), in.Campaign, durationMS(s.ttl))
	if err != nil {
		return LoginResult{}, err
	}
	out := LoginResult{Presence: r.p, Resumed: r.code == "resumed"}
	if r.code == "lapsed" {
		session, _ := strconv.ParseInt(r.a, 10, 64)
		out.Lapsed = &Lapse{Agent: agent, Session: session, ExpiredAt: timeOf(ms(r.b))}
	}
	return out, nil
}

// Heartbeat extends the agent's session by the heartbeat TTL. It answers
// ErrNotLoggedIn without a session and ErrExpired once the session lapsed;
// either way the desktop must log in again.
func (s *Store) Heartbeat(ctx context.Context, tenant, agent string) (Presence, error) {
	k, err := s.agentKeys(tenant, agent)
	if err != nil {
		return Presence{}, err
	}
	r, err := s.runPresence(ctx, "heartbeat", agent, heartbeatScript,
		[]string{k.agent(agent), k.alive(), k.slots(agent), k.ready()}, agent, durationMS(s.ttl))
	if err != nil {
		return Presence{}, err
	}
	return r.p, sessionErr("heartbeat", agent, r.code)
}

// SetStatus changes the status of a logged-in agent (by the agent or a
// supervisor). It does not count as a heartbeat.
func (s *Store) SetStatus(ctx context.Context, tenant, agent string, st routing.Status) (Presence, error) {
	k, err := s.agentKeys(tenant, agent)
	if err != nil {
		return Presence{}, err
	}
	if err := checkStatus(st); err != nil {
		return Presence{}, err
	}
	r, err := s.runPresence(ctx, "set status", agent, setStatusScript,
		[]string{k.agent(agent), k.slots(agent), k.ready()}, st.Name, string(st.Group), agent)
	if err != nil {
		return Presence{}, err
	}
	return r.p, sessionErr("set status", agent, r.code)
}

// SetVoiceState records the agent's voice sub-state. In_call holds the voice
// slot (routing.VoiceState.OccupiesVoice), so a voice Reserve is refused while
// it is set, even for a call that was never reserved (a manual outbound dial).
// Ringing holds it only through the offer's reservation: a ringing state that
// outlived its reservation keeps no call away.
func (s *Store) SetVoiceState(ctx context.Context, tenant, agent string, v routing.VoiceState) (Presence, error) {
	k, err := s.agentKeys(tenant, agent)
	if err != nil {
		return Presence{}, err
	}
	if !v.Valid() {
		return Presence{}, fmt.Errorf("%w: unknown voice state %q", ErrInvalid, v)
	}
	r, err := s.runPresence(ctx, "set voice state", agent, setVoiceScript,
		[]string{k.agent(agent), k.slots(agent), k.ready()}, string(v), agent)
	return r.p, err
}

// Logout ends the agent's session, unless the agent still holds or is being
// offered an interaction (ErrActiveInteractions). The check and the logout
// are one atomic step, so no reservation can slip in between. Logging out an
// agent who is not logged in is a no-op.
func (s *Store) Logout(ctx context.Context, tenant, agent string) (Presence, error) {
	return s.logout(ctx, tenant, agent, false)
}

// ForceLogout ends the session whatever the agent holds (supervisor action).
// Held slots stay: the interactions are still with the agent until they are
// released or transferred.
func (s *Store) ForceLogout(ctx context.Context, tenant, agent string) (Presence, error) {
	return s.logout(ctx, tenant, agent, true)
}

func (s *Store) logout(ctx context.Context, tenant, agent string, force bool) (Presence, error) {
	k, err := s.agentKeys(tenant, agent)
	if err != nil {
		return Presence{}, err
	}
	f := "0"
	if force {
		f = "1"
	}
	r, err := s.runPresence(ctx, "logout", agent, logoutScript,
		[]string{k.agent(agent), k.alive(), k.slots(agent), k.ready()}, agent, f)
	if err != nil {
		return Presence{}, err
	}
	if r.code == "active" {
		return r.p, fmt.Errorf("logout agent %s: %w", agent, ErrActiveInteractions)
	}
	return r.p, nil
}

// Expired lists up to limit sessions whose heartbeat has lapsed and which
// nobody has logged out yet, oldest first. Listing changes nothing, so any
// number of sweepers may call it; each lapse is closed with LogoutExpired.
func (s *Store) Expired(ctx context.Context, tenant string, limit int) ([]Lapse, error) {
	k, err := s.keys(tenant)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit must be positive", ErrInvalid)
	}
	res, err := expiredScript.Run(ctx, s.rdb, []string{k.alive()}, limit).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("presence: list expired in tenant %s: %w", tenant, err)
	}
	if len(res) < 1 {
		return nil, nil
	}
	out := make([]Lapse, 0, (len(res)-1)/2)
	for i := 1; i+1 < len(res); i += 2 {
		out = append(out, Lapse{Agent: res[i], ExpiredAt: timeOf(ms(res[i+1]))})
	}
	if len(out) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]interface{ Result() (string, error) }, len(out))
	for i, l := range out {
		cmds[i] = pipe.HGet(ctx, k.agent(l.Agent), "session")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("presence: list expired in tenant %s: %w", tenant, err)
	}
	for i := range out {
		v, _ := cmds[i].Result()
		out[i].Session, _ = strconv.ParseInt(v, 10, 64)
	}
	return out, nil
}

// LogoutExpired logs out session of agent if that session is still the
// current one and its heartbeat is still lapsed. It reports whether it did;
// false means someone else already did, or the agent logged in again or
// heart-beat in time, and there is nothing to record.
func (s *Store) LogoutExpired(ctx context.Context, tenant, agent string, session int64) (bool, error) {
	k, err := s.agentKeys(tenant, agent)
	if err != nil {
		return false, err
	}
	r, err := s.runPresence(ctx, "logout expired", agent, logoutExpiredScript,
		[]string{k.agent(agent), k.alive(), k.slots(agent), k.ready()}, agent, strconv.FormatInt(session, 10))
	if err != nil {
		return false, err
	}
	return r.code == "ok", nil
}

// Online lists the agents of the tenant with a live session (logged in, heartbeat
// not lapsed), sorted, whatever their status. Assignment reads Ready instead: only
// the agents who may take new work, with their state, in one command.
func (s *Store) Online(ctx context.Context, tenant string) ([]string, error) {
	k, err := s.keys(tenant)
	if err != nil {
		return nil, err
	}
	out, err := onlineScript.Run(ctx, s.rdb, []string{k.alive()}).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("presence: online agents of tenant %s: %w", tenant, err)
	}
	slices.Sort(out)
	return out, nil
}

// Get reads one agent's presence.
func (s *Store) Get(ctx context.Context, tenant, agent string) (Presence, error) {
	k, err := s.agentKeys(tenant, agent)
	if err != nil {
		return Presence{}, err
	}
	pipe := s.rdb.Pipeline()
	tc := pipe.Time(ctx)
	hm := pipe.HMGet(ctx, k.agent(agent), presenceFields...)
	if _, err := pipe.Exec(ctx); err != nil {
		return Presence{}, fmt.Errorf("presence: get agent %s: %w", agent, err)
	}
	return parsePresence(agent, tc.Val().UnixMilli(), hm.Val()), nil
}

func (s *Store) agentKeys(tenant, agent string) (keys, error) {
	k, err := s.keys(tenant)
	if err != nil {
		return keys{}, err
	}
	return k, checkID("agent", agent)
}

func sessionErr(op, agent, code string) error {
	switch code {
	case "not_logged_in":
		return fmt.Errorf("%s agent %s: %w", op, agent, ErrNotLoggedIn)
	case "expired":
		return fmt.Errorf("%s agent %s: %w", op, agent, ErrExpired)
	}
	return nil
}
