package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"switchboard/api"
	"switchboard/media"
	"switchboard/media/rtpengine"
	"switchboard/tts"
	"switchboard/workflows"
)

// mediaServer is the media worker's SIP endpoint over the stack's connections: the
// registrar of agents' phones, and calls on the tenants' numbers, whose interactions
// start the way the API starts inbound ones. close frees the media plane.
func (s *stack) mediaServer(cfg *config) (*media.Server, func(), error) {
	engine, err := rtpengine.New(rtpengine.Config{Logger: s.logger})
	if err != nil {
		return nil, nil, err
	}
	front := s.api()
	ix := media.TemporalInteractions{Client: s.temporal, Start: func(ctx context.Context, c media.InboundCall) (string, error) {
		view, _, err := front.StartInboundCall(ctx, api.InboundCall{TenantID: c.TenantID, CampaignID: c.CampaignID, From: c.From, To: c.To,
			CallerName: c.CallerName, RequestID: c.RequestID, Media: c.Media})
		return view.ID, err
	}}
	sip, err := media.NewServer(media.Config{Addr: cfg.SIPAddr, Logger: s.logger, Directory: s.store,
		Registrations: media.NewRegistrations(s.redis), Host: cfg.MediaHost, DefaultTenant: cfg.SIPDefaultTenant,
		Limits: media.Limits{Trusted: cfg.SIPTrusted}, DigestAlgorithms: strings.Split(cfg.SIPDigestText, ","),
		Engine: engine, Interactions: ix, AdvertiseIP: cfg.SIPAdvertise, Trunk: cfg.SIPTrunk,
		Waiting: s.store, Speech: &tts.Cache{Engine: tts.Espeak{}, Dir: speechDir(s.ttsDir)}})
	if err != nil {
		engine.Close()
		return nil, nil, err
	}
	return sip, func() { engine.Close() }, nil
}

// speechDir is where rendered speech is cached: the data directory's, else the
// system's temporary directory, as the API does.
func speechDir(dir string) string {
	if dir == "" {
		return filepath.Join(os.TempDir(), "switchboard-tts")
	}
	return dir
}

// phoneHost finds the media host of the agent's most recently registered phone.
func (s *stack) phoneHost(ctx context.Context, tenantID, agentID string) (string, bool, error) {
	regs, err := media.NewRegistrations(s.redis).Lookup(ctx, tenantID, agentID)
	if err != nil || len(regs) == 0 {
		return "", false, err
	}
	return regs[0].Host, true, nil
}

// runMediaWorker runs the Temporal worker of the media host's own task queue: the
// activities interactions' workflows call on the host that holds their call.
func runMediaWorker(ctx context.Context, c client.Client, sip *media.Server) error {
	w := sdkworker.New(c, workflows.MediaTaskQueue(sip.Host()), sdkworker.Options{})
	sip.RegisterActivities(w)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start the media worker of task queue %s: %w", workflows.MediaTaskQueue(sip.Host()), err)
	}
	<-ctx.Done()
	w.Stop()
	return nil
}
