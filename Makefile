# Switchboard. `make run` starts the whole product on this machine; `make test` runs
# every test against the local PostgreSQL and Redis.

# The embedded Temporal server needs a newer Go than some machines default to; let the
# go command fetch the toolchain named in go.mod.
export GOTOOLCHAIN ?= go1.26.10+auto

GO         ?= go
BIN        := bin/switchboard
GOFLAGS_BUILD := -trimpath -ldflags "-s -w"
WORKFLOWCHECK := go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0
TEST_TIMEOUT  ?= 12m
# End-to-end tests mostly wait on timers and PostgreSQL, so several run at once.
TEST_PARALLEL ?= 3

.PHONY: all build run test bench lint deps-test clean

all: build

build:
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN) ./cmd/switchboard

run: build
	./$(BIN) dev

# Test peers that come from Debian: SIPp for SIP, espeak-ng for text-to-speech.
deps-test:
	@command -v sipp >/dev/null 2>&1 || { \
		echo "installing sip-tester (SIPp) for the SIP tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sip-tester >/dev/null; }
	@command -v espeak-ng >/dev/null 2>&1 || { \
		echo "installing espeak-ng for the text-to-speech tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null; }

test: deps-test
	$(GO) test -count=1 -parallel $(TEST_PARALLEL) -timeout $(TEST_TIMEOUT) ./...

# Each figure is printed next to its floor measured in the same run: the API's workflow
# round trip against a bare SDK round trip of a no-op workflow on the same server.
OPEN_WORKFLOWS ?= 10000
# BenchmarkLifecycle: agent actions at LIFECYCLE_RATE/s (LIFECYCLE_ACTIONS of each), and
# LIFECYCLE_INTERACTIONS interactions from creation to disposal, LIFECYCLE_CONCURRENCY at once.
LIFECYCLE_RATE         ?= 100
LIFECYCLE_ACTIONS      ?= 600
LIFECYCLE_INTERACTIONS ?= 200
LIFECYCLE_CONCURRENCY  ?= 16
# BenchmarkWebhookDelivery: WEBHOOK_DELIVERIES events delivered to a receiver on this machine,
# 16 published at once, against plain POSTs of the same bodies.
WEBHOOK_DELIVERIES ?= 1000
# BenchmarkDoNotCallLookup: the check before every outbound dial over DNC_NUMBERS listed numbers.
DNC_NUMBERS ?= 10000000
# BenchmarkDurableTimers: TIMERS snoozed conversations and callbacks waiting at once, due in a
# window a few minutes ahead, against as many bare sleeping workflows; a restart while they wait.
TIMERS ?= 100000
# BenchmarkAutomationTimers: AUTOMATION_TIMERS time-based automations armed at once, how late they fire;
# BenchmarkAutomationEvents: customer-message throughput with no rules against AUTOMATION_RULES enabled rules.
AUTOMATION_TIMERS ?= 50000
AUTOMATION_RULES  ?= 100
# BenchmarkHoldMusic: RTP_STREAMS calls on hold music against plain Go pacing of as many streams.
RTP_STREAMS ?= 1500
# BenchmarkSIPInboundCalls: SIP_CALLS calls from SIPp offered at SIP_RATE/s to a tenant's
# number, answered with SDP and hung up, the interaction's start a stand-in.
SIP_CALLS ?= 5000
SIP_RATE  ?= 2000
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./telemetry/ ./routing/ ./presence/
	$(GO) test -run '^$$' -bench WorkflowRoundTrip -benchtime 200x ./cmd/switchboard/
	$(GO) test -run '^$$' -bench Assignment -benchtime 1x -timeout 30m ./cmd/switchboard/
	$(GO) test -run '^$$' -bench OpenWorkflows -benchtime 1x -timeout 30m ./cmd/switchboard/ -open-workflows $(OPEN_WORKFLOWS)
	$(GO) test -run '^$$' -bench Lifecycle -benchtime 1x -timeout 20m ./cmd/switchboard/ \
		-lifecycle-rate $(LIFECYCLE_RATE) -lifecycle-actions $(LIFECYCLE_ACTIONS) \
		-lifecycle-interactions $(LIFECYCLE_INTERACTIONS) -lifecycle-concurrency $(LIFECYCLE_CONCURRENCY)
	$(GO) test -run '^$$' -bench WebhookDelivery -benchtime 1x -timeout 20m ./cmd/switchboard/ -webhook-deliveries $(WEBHOOK_DELIVERIES)
	$(GO) test -run '^$$' -bench DoNotCallLookup -benchtime 1x -timeout 20m ./pgstore/ -dnc-numbers $(DNC_NUMBERS)
	$(GO) test -run '^$$' -bench HoldMusic -benchtime 1x -timeout 10m ./media/rtpengine/ -streams $(RTP_STREAMS) -duration 10s
	$(GO) test -run '^$$' -bench SIPInboundCalls -benchtime 1x ./media/ -sip-calls $(SIP_CALLS) -sip-rate $(SIP_RATE)
	$(GO) test -run '^$$' -bench AutomationEvents -benchtime 1x -timeout 30m ./cmd/switchboard/ -automation-rules $(AUTOMATION_RULES)
	$(GO) test -run '^$$' -bench AutomationTimers -benchtime 1x -timeout 60m ./cmd/switchboard/ -automation-timers $(AUTOMATION_TIMERS)
	$(GO) test -run '^$$' -bench DurableTimers -benchtime 1x -timeout 300m ./cmd/switchboard/ -timers $(TIMERS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags nodev ./cmd/...
	$(GO) run $(WORKFLOWCHECK) ./...

clean:
	rm -rf bin
