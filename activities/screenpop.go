package activities

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/screenpop"
)

// ScreenPop is the CRM page an agent's desktop opens for an interaction: the
// campaign's screen pop URL resolved for the interaction and the agent.
type ScreenPop struct {
	URL string `json:"url"`
	// CampaignID is the campaign whose page it is.
	CampaignID string `json:"campaignId"`
}

// userNameTTL is how long a worker keeps an agent's name for the {userName}
// placeholder: a renamed agent's pages show the new name within this time.
const userNameTTL = time.Minute

type userNameEntry struct {
	name string
	at   time.Time
}

// userNames caches agents' names by tenant and user.
type userNames struct {
	mu sync.Mutex
	m  map[string]userNameEntry
}

var screenPopUsers = &userNames{m: map[string]userNameEntry{}}

// userName is the user's name, from the cache when fresh; "" for a user the tenant
// does not have.
func (a *Activities) userName(ctx context.Context, tenantID, userID string) (string, error) {
	if userID == "" {
		return "", nil
	}
	c := screenPopUsers
	key := tenantID + "/" + userID
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && time.Since(e.at) < userNameTTL {
		return e.name, nil
	}
	u, err := a.Store.GetUser(ctx, tenantID, userID)
	if err != nil && !errors.Is(err, pgstore.ErrNotFound) {
		return "", err
	}
	c.mu.Lock()
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[key] = userNameEntry{name: u.Name, at: time.Now()}
	c.mu.Unlock()
	return u.Name, nil
}

// templates caches parsed screen pop templates by their text: parsing checks the
// whole URL and costs ten times the resolution.
var templates = struct {
	sync.Mutex
	m map[string]screenpop.Template
}{m: map[string]screenpop.Template{}}

func parsedTemplate(raw string) (screenpop.Template, error) {
	templates.Lock()
	tpl, ok := templates.m[raw]
	templates.Unlock()
	if ok {
		return tpl, nil
	}
	tpl, err := screenpop.Parse(raw, screenpop.Interaction)
	if err != nil {
		return tpl, err
	}
	templates.Lock()
	if len(templates.m) > 1000 {
		clear(templates.m)
	}
	templates.m[raw] = tpl
	templates.Unlock()
	return tpl, nil
}

// screenPop resolves the screen pop of the interaction's campaign (its Default one
// when it names none, or one deleted since) for the agent it rings on or is held by,
// in queue. Nil when the campaign has no screen pop URL. The campaign comes from the
// worker's campaign cache, so a screen pop costs no database read on the hot path;
// only a {userName} reads the agent's name, cached too.
func (a *Activities) screenPop(ctx context.Context, ix pgstore.Interaction, queueID, agentID string) (*ScreenPop, error) {
	c, _, err := a.campaign(ctx, ix.TenantID, ix.CampaignID, false)
	if errors.Is(err, pgstore.ErrNotFound) && ix.CampaignID != "" {
		c, _, err = a.campaign(ctx, ix.TenantID, "", false)
	}
	if errors.Is(err, pgstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if c.ScreenPopURL == nil {
		return nil, nil
	}
	tpl, err := parsedTemplate(*c.ScreenPopURL)
	if err != nil {
		// Stored templates were checked when saved; one that no longer parses
		// (the rules got stricter) opens nothing rather than a broken page.
		return nil, nil
	}
	if queueID == "" {
		queueID = ix.QueueID
	}
	v := screenpop.Values{
		screenpop.InteractionID: ix.ID, screenpop.TenantID: ix.TenantID, screenpop.CampaignID: c.ID,
		screenpop.CampaignName: c.Name, screenpop.QueueID: queueID, screenpop.UserID: agentID,
		screenpop.CustomerID: ix.CustomerID, screenpop.CustomerName: ix.CustomerName, screenpop.Phone: ix.CustomerPhone,
		screenpop.CallType: string(ix.Direction), screenpop.Channel: string(ix.Channel), screenpop.Source: ix.Source,
		screenpop.GeneratedTime: strconv.FormatInt(time.Now().UnixMilli(), 10),
	}
	// The contact center's number on the interaction: the one the customer
	// dialled, or the caller ID shown to them.
	if ix.Direction == pgstore.Outbound {
		v[screenpop.DisplayPhone] = ix.From
		if ix.From == "" && c.CallerID != nil {
			v[screenpop.DisplayPhone] = *c.CallerID
		}
	} else {
		v[screenpop.DisplayPhone] = ix.To
	}
	if c.Locale != nil {
		v[screenpop.Locale] = *c.Locale
	}
	for k, val := range ix.Metadata {
		v[screenpop.MetadataPrefix+k] = val
	}
	if tpl.Uses(screenpop.UserName) {
		if v[screenpop.UserName], err = a.userName(ctx, ix.TenantID, agentID); err != nil {
			return nil, err
		}
	}
	return &ScreenPop{URL: tpl.Resolve(v), CampaignID: c.ID}, nil
}

// interactionOf is the interaction a request carries, else the read model's.
func (a *Activities) interactionOf(ctx context.Context, carried *pgstore.Interaction, tenantID, id string) (pgstore.Interaction, error) {
	if carried != nil && carried.ID == id {
		return *carried, nil
	}
	ix, err := a.Store.GetInteraction(ctx, tenantID, id)
	if err != nil {
		// Retried: the caller recorded the interaction just before.
		return ix, fmt.Errorf("read interaction %s for its screen pop: %w", id, err)
	}
	return ix, nil
}

// publishShowCRM tells the agent who now holds the interaction to open its screen
// pop (showCrm), with the interaction's, the agent's and the customer's details.
// Nothing when the campaign has no screen pop.
func (a *Activities) publishShowCRM(ctx context.Context, ix pgstore.Interaction, e InteractionEvent, agentID string) error {
	if e.ScreenPop == nil {
		return nil
	}
	e.Channel, e.Source, e.CustomerPhone, e.CustomerName = ix.Channel, ix.Source, ix.CustomerPhone, ix.CustomerName
	if e.QueueID == "" {
		e.QueueID = ix.QueueID
	}
	e.Detail = map[string]any{"campaignId": e.ScreenPop.CampaignID, "direction": ix.Direction, "customerId": ix.CustomerID}
	return a.publish(ctx, ix.TenantID, events.ShowCRM, e, agentID)
}

// publishConnected publishes interactionConnected for the agent who now holds the
// interaction, with its screen pop, then showCrm.
func (a *Activities) publishConnected(ctx context.Context, ix pgstore.Interaction, e InteractionEvent, agentID string) error {
	pop, err := a.screenPop(ctx, ix, e.QueueID, agentID)
	if err != nil {
		return err
	}
	e.ScreenPop = pop
	if err := a.publish(ctx, ix.TenantID, events.InteractionConnected, e, agentID); err != nil {
		return err
	}
	return a.publishShowCRM(ctx, ix, e, agentID)
}

// storedScreenPop is the screen pop of an interaction as the read model has it (a
// transfer's offer, which carries no interaction).
func (a *Activities) storedScreenPop(ctx context.Context, tenantID, id, agentID string) (*ScreenPop, error) {
	ix, err := a.interactionOf(ctx, nil, tenantID, id)
	if err != nil {
		return nil, err
	}
	return a.screenPop(ctx, ix, "", agentID)
}
