package activities

import (
	"context"
	"errors"
	"sync"
	"time"

	"switchboard/pgstore"
)

// campaignTTL is how long a worker keeps a campaign and its disposition codes: a
// change reaches interactions that end or are disposed within this time, like a
// change of a queue's agents reaches decisions (dispatch's member cache).
const campaignTTL = 2 * time.Second

// campaignEntry is a campaign as read, with its codes; tree is nil until needed.
type campaignEntry struct {
	campaign pgstore.Campaign
	tree     *pgstore.DispositionTree
	err      error
	at       time.Time
}

// campaigns caches campaigns by tenant and ID ("" for the tenant's Default one).
type campaigns struct {
	mu sync.Mutex
	m  map[string]*campaignEntry
}

func (a *Activities) campaignCache() *campaigns {
	a.campaignsOnce.Do(func() { a.campaigns = &campaigns{m: map[string]*campaignEntry{}} })
	return a.campaigns
}

// campaign reads a campaign of the tenant (its Default one for an empty ID), with its
// disposition codes when withTree, from the cache when fresh. ErrNotFound when the
// tenant has no such campaign.
func (a *Activities) campaign(ctx context.Context, tenantID, id string, withTree bool) (pgstore.Campaign, *pgstore.DispositionTree, error) {
	c := a.campaignCache()
	key := tenantID + "/" + id
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && time.Since(e.at) < campaignTTL && (e.tree != nil || !withTree || e.err != nil) {
		return e.campaign, e.tree, e.err
	}
	e = &campaignEntry{at: time.Now()}
	cid := id
	if cid == "" {
		cid, e.err = a.Store.DefaultCampaignID(ctx, tenantID)
	}
	if e.err == nil {
		e.campaign, e.err = a.Store.GetCampaign(ctx, tenantID, cid)
	}
	if e.err == nil && withTree {
		var t pgstore.DispositionTree
		if t, e.err = a.Store.GetDispositions(ctx, tenantID, cid); e.err == nil {
			e.tree = &t
		}
	}
	if e.err != nil && !errors.Is(e.err, pgstore.ErrNotFound) {
		return pgstore.Campaign{}, nil, e.err // not kept: the next call tries again
	}
	c.mu.Lock()
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[key] = e
	c.mu.Unlock()
	return e.campaign, e.tree, e.err
}
