package routing_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"switchboard/routing"
)

func BenchmarkChoose(b *testing.B) {
	for _, n := range []int{200, 2000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			cands := randomCandidates(r, n)
			for i := range cands { // unique IDs: duplicates would shrink the field
				cands[i].AgentID = fmt.Sprintf("agent-%05d", i)
			}
			req := routing.Request{Channel: routing.LiveChat, QueueID: routing.DefaultQueue}
			b.ReportAllocs()
			for b.Loop() {
				routing.Choose(req, cands, t0)
			}
		})
	}
}

func BenchmarkBest(b *testing.B) {
	for _, n := range []int{200, 2000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			cands := randomCandidates(r, n)
			for i := range cands { // unique IDs: duplicates would shrink the field
				cands[i].AgentID = fmt.Sprintf("agent-%05d", i)
			}
			req := routing.Request{Channel: routing.LiveChat, QueueID: routing.DefaultQueue}
			b.ReportAllocs()
			for b.Loop() {
				routing.Best(req, cands, t0)
			}
		})
	}
}

func BenchmarkRouteInteraction50(b *testing.B) {
	routes := make([]routing.Route, 50)
	for i := range routes {
		// Nothing matches until the last route, the worst case.
		routes[i] = route(fmt.Sprintf("r%02d", i), 50-i, "q", routing.AllOf(
			routing.Where(routing.AttrChannel, routing.OpIs, "whatsapp"),
			routing.AnyOf(
				routing.Where(routing.AttrContent, routing.OpContains, fmt.Sprintf("keyword-%d", i)),
				routing.Where(routing.AttrTags, routing.OpInList, "vip", fmt.Sprintf("tag-%d", i)),
				routing.Where("customer.birthDate", routing.OpBefore, "1950-01-01"),
			),
		))
	}
	routes[0].Match = routing.Where(routing.AttrChannel, routing.OpIs, "whatsapp")
	routes[0].Position = 1000
	f := routing.Facts{
		Channel: routing.LiveMessaging, Source: "whatsapp", From: "+385911234567",
		Content:  "Hello, I would like to ask about my latest invoice and the delivery date of my order",
		Tags:     []string{"billing"},
		Customer: map[string]string{"birthDate": "1990-05-17", "city": "Zagreb"},
	}
	if d := routing.RouteInteraction(f, routes); d.RouteID != "r00" {
		b.Fatalf("decision = %+v", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		routing.RouteInteraction(f, routes)
	}
}
