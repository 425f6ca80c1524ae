// Package routing is the pure decision logic of the ACD: which queue a new
// interaction lands in, which agent is offered it, and how an agent's load is
// measured.
//
// Everything here is called from Temporal workflows, so every function is
// deterministic: no clock reads (callers pass now), no randomness, no I/O, no
// package-level mutable state, and every result that comes from a map or an
// unordered input is sorted before it is returned. Floating-point products are
// wrapped in explicit float64 conversions, which the Go spec defines as a
// rounding point; that stops the compiler fusing them into FMA instructions on
// arm64 and so keeps scores bit-identical between amd64 and arm64 workers
// replaying the same history.
//
// The package owns no state: presence, occupancy and reservations live in
// Redis and PostgreSQL, and the caller snapshots them into the plain structs
// taken here.
package routing
