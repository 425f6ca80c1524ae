// Package presence keeps agent presence, per-channel occupancy and offer
// reservations in Redis, shared by every API replica and worker. Nothing is
// cached in process memory: each operation is one Redis round trip (a Lua
// script or a pipeline), so two processes deciding at the same instant see and
// change the same state.
//
// # Clock
//
// Every time comparison (heartbeat deadline, reservation deadline) uses the
// Redis server's clock (TIME inside the scripts, TIME at the head of each read
// pipeline), never the caller's, so skew between hosts cannot make one process
// think a reservation is live while another thinks it has lapsed. Times are
// kept in Unix milliseconds. Store.Now returns that clock.
//
// # Key layout
//
// All keys of a tenant share the Redis Cluster hash tag {<tenant>}, so every
// script touches a single slot (scripts that walk a whole tenant — Audit and
// Rebuild — build key names inside the script; that is allowed because they
// stay in that one slot).
//
//	<prefix>:{<tenant>}:agent:<agent>       HASH   presence: on (1/0), session, status, group,
//	                                               voice, campaign, changed, login, hb,
//	                                               deadline (heartbeat expiry), la (last assigned)
//	<prefix>:{<tenant>}:alive               ZSET   logged-in agent → heartbeat deadline
//	<prefix>:{<tenant>}:slots:<agent>       ZSET   "<channel>|<interaction>" → reservation
//	                                               deadline, or +inf once held (confirmed)
//	<prefix>:{<tenant>}:ix:<interaction>    STRING "R|<agent>|<channel>|<deadline>" (reserved) or
//	                                               "H|<agent>|<channel>|<since>" (held)
//	<prefix>:{<tenant>}:agents              SET    every agent that has presence or slots
//	<prefix>:{<tenant>}:ready               HASH   agent → ready entry, for each agent logged in
//	                                               in an Available-group status (see below)
//
// The prefix defaults to "switchboard" (Options.Prefix); tests use a random one.
// The ix key is the single owner record of an interaction: it names at most one
// agent, which is how one interaction can never be with two agents. A slot
// member is live while its score is above the server time, so an expired
// reservation stops counting the instant it lapses even if no process ever
// comes back to clean it; scripts delete such members lazily, and reserved ix
// keys carry a Redis expiry a minute after their deadline as garbage
// collection only (the logic never relies on it).
//
// # Guarantees of the scripts
//
// Each mutation is one Lua script, and Redis runs scripts one at a time, so
// each is atomic with respect to every other client:
//
//   - Reserve succeeds only if, at that instant, the agent is logged in with a
//     live heartbeat, in an Available-group status, has fewer live slots
//     (held + unexpired reservations) on the channel than the capacity given
//     (voice: always 1, and a voice sub-state of ringing or in_call counts as
//     the voice slot), and no live reservation or hold exists for the
//     interaction on any agent. It then writes the slot member and the ix key
//     together with a deadline of now+ttl.
//   - Confirm turns the caller's own live reservation into a hold (score +inf,
//     no expiry) and stamps the agent's last-assigned time; repeating it is a
//     no-op that still reports true. A lapsed or foreign reservation is refused.
//   - Release removes the agent's slot for the interaction, reserved or held,
//     and the ix key only when it names this agent; repeating it is a no-op.
//   - Login, Heartbeat, SetStatus, Logout and LogoutExpired read and write the
//     presence hash and the alive set together.
//   - Every script that changes an agent's presence or slots rewrites that
//     agent's ready entry in the same step (or removes it), so the ready
//     index never disagrees with them; Audit checks that it does not.
//
// # Ready index
//
// Assignment reads every agent who may take new work on each decision, so
// what it reads must not grow with anything else. The ready hash holds one
// entry per agent logged in in an Available-group status — agents on a break,
// busy or logged out have none — each a single string with what routing
// needs: the heartbeat deadline, the last-assigned time, the voice state and,
// per channel with live slots, the number held and each reservation's
// deadline. Ready reads the whole hash in one command. Heartbeats and
// reservations lapse without any script running, so a reader judges both
// against the server time as Snapshot does: a lapsed session is left out, a
// lapsed reservation not counted. Rebuild recomputes every agent's entry.
//
// # Heartbeats
//
// A logged-in agent whose heartbeat deadline has passed reads as Unavailable
// (Status Offline, Expired true) and cannot be reserved, even before anything
// sweeps it. A lapsed session is over: Heartbeat and SetStatus answer
// ErrExpired and the desktop logs in again, which starts a new session. Expired
// lists lapsed sessions so the agent-session workflow can record the logout;
// LogoutExpired then closes exactly that session, never a newer one.
//
// # Rebuild
//
// Redis is never the only copy of what must survive: held interactions live in
// PostgreSQL and in the interaction workflows. After Redis is flushed (or to
// repair drift), Rebuild restores the held slots from an authoritative list,
// and can prune held slots that list does not contain, and recomputes the
// ready index of every agent of the tenant. Presence is not
// rebuilt: desktops get ErrNotLoggedIn on their next heartbeat and log in
// again. Live reservations are not rebuilt either: they are at most one ring
// timeout long, and the workflow that made one re-offers when its offer fails.
package presence
