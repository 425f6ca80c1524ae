// Package automation is the pure logic of Switchboard's automations ("workflows" in the
// contact-center sense): the rules admins author, their validation, the matching of a
// conversation event against a rule's triggers, the evaluation of its conditions
// against the facts of a conversation, the resolution of placeholders in what its
// actions send, and which conversation changes arm, re-arm or cancel a time-based
// trigger. It does no I/O and is deterministic, so the Temporal workflows that run the
// rules call it directly.
//
// A rule has one or more triggers, tied with OR: any of them starts it. Its optional
// conditions are groups tied with AND; the conditions inside a group are tied with OR;
// an attribute is used at most once in a rule. Its actions run in order; closing the
// conversation, when present, is the last. Rules are kept in an ordered list, and for
// one event they run in list order, every action of the first before the second.
package automation
