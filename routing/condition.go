package routing

import (
	"fmt"
	"strings"
	"time"
)

// Operator is a comparison in a route condition.
type Operator string

// Operators. Negated operators are exact complements of their positive forms,
// so a missing attribute satisfies "is_not" and fails "is": a visitor with no
// country is indeed not in Croatia, and AND/OR trees keep ordinary Boolean
// algebra.
const (
	OpIs          Operator = "is"
	OpIsNot       Operator = "is_not"
	OpContains    Operator = "contains"
	OpNotContains Operator = "not_contains"
	OpStartsWith  Operator = "starts_with"
	OpInList      Operator = "in_list"
	OpNotInList   Operator = "not_in_list"
	OpBefore      Operator = "before"
	OpAfter       Operator = "after"
	OpOnOrBefore  Operator = "on_or_before"
	OpOnOrAfter   Operator = "on_or_after"
)

// takesList reports whether op compares against Values rather than Value.
func (op Operator) takesList() bool { return op == OpInList || op == OpNotInList }

// Attributes a condition can test. Customer attributes, standard and custom,
// are written CustomerPrefix+name, e.g. "customer.city" or "customer.tier".
const (
	AttrChannel    = "channel"
	AttrFrom       = "from"
	AttrTo         = "to"
	AttrContent    = "content"
	AttrTags       = "tags"
	AttrIsVisitor  = "isVisitor"
	CustomerPrefix = "customer."
)

// attrType decides which operators and values an attribute accepts.
type attrType int

const (
	typeText    attrType = iota // free text
	typeEnum                    // a value from a fixed vocabulary: equality only
	typeChannel                 // a channel or sub-channel name
	typeBool                    // "true" or "false"
	typeDate                    // DateLayout or RFC 3339
	typeList                    // a set of tags
	typeAny                     // custom attribute: untyped, so text and date operators both apply
)

func (t attrType) String() string {
	return [...]string{"text", "enumerated", "channel", "boolean", "date", "list", "custom"}[t]
}

func (t attrType) allows(op Operator) bool {
	switch op {
	case OpIs, OpIsNot:
		return t != typeList
	case OpInList, OpNotInList:
		return t != typeBool && t != typeDate
	case OpContains, OpNotContains:
		return t == typeText || t == typeList || t == typeAny
	case OpStartsWith:
		return t == typeText || t == typeAny
	case OpBefore, OpAfter, OpOnOrBefore, OpOnOrAfter:
		return t == typeDate || t == typeAny
	}
	return false
}

func knownOperator(op Operator) bool {
	switch op {
	case OpIs, OpIsNot, OpContains, OpNotContains, OpStartsWith, OpInList,
		OpNotInList, OpBefore, OpAfter, OpOnOrBefore, OpOnOrAfter:
		return true
	}
	return false
}

// attributeType resolves an attribute name. Anything under CustomerPrefix that
// is not a standard person attribute is a tenant's custom attribute; tenants
// define those freely, so only the name's shape is checked.
func attributeType(attr string) (attrType, bool) {
	switch attr {
	case AttrChannel:
		return typeChannel, true
	case AttrFrom, AttrTo, AttrContent:
		return typeText, true
	case AttrTags:
		return typeList, true
	case AttrIsVisitor:
		return typeBool, true
	}
	name, ok := strings.CutPrefix(attr, CustomerPrefix)
	if !ok || !validAttrName(name) {
		return 0, false
	}
	switch name {
	case "address", "city", "country", "externalPersonId", "firstName", "lastName",
		"middleName", "nickName", "preferredService", "type", "integrations", "modifiedFrom":
		return typeText, true
	case "gender":
		return typeEnum, true
	case "birthDate":
		return typeDate, true
	case "tags":
		return typeList, true
	}
	return typeAny, true
}

// MaxAttrNameLength bounds custom attribute names.
const MaxAttrNameLength = 64

// validAttrName accepts identifier-like names (letters, digits, '_', '-'),
// which covers camelCase and snake_case custom fields and keeps the dotted
// attribute path unambiguous.
func validAttrName(s string) bool {
	if s == "" || len(s) > MaxAttrNameLength {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_':
		case (r >= '0' && r <= '9') || r == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Condition is one node of a route's match tree. Exactly one form is used:
// All (every child matches), Any (at least one child matches), or a test of
// Attr with Op against Value (or Values, for in_list and not_in_list).
// The JSON shape is therefore one of
//
//	{"all":[…]}  {"any":[…]}  {"attr":"from","op":"starts_with","value":"+385"}
//	{"attr":"tags","op":"in_list","values":["vip","gold"]}
//
// Values are always JSON strings: booleans are "true"/"false", dates are
// DateLayout ("2006-01-02") or RFC 3339 date-times.
//
// Text comparisons ignore letter case — supervisors type these values by hand
// and expect "Spanish" to match "spanish" — and so do tag and channel names.
// The rule is the same for every text attribute, IDs included: one rule is
// easier to predict than a per-attribute table, and identifiers differing
// only in case do not occur in practice. Nothing is otherwise normalised
// (phone numbers are compared as written). Attribute names are identifiers
// and are matched exactly.
//
// On tag lists, contains and in_list test whole tags, not substrings.
// Custom customer attributes are untyped: is, in_list, contains and
// starts_with compare them as text, while the before and after families
// parse both sides as dates and fail when the stored value is not one. Standard typed attributes (customer.birthDate) compare as dates for
// is/is_not too.
type Condition struct {
	All    []Condition `json:"all,omitempty"`
	Any    []Condition `json:"any,omitempty"`
	Attr   string      `json:"attr,omitempty"`
	Op     Operator    `json:"op,omitempty"`
	Value  string      `json:"value,omitempty"`
	Values []string    `json:"values,omitempty"`
}

// Where builds a leaf condition; list operators take every value, the others
// the first.
func Where(attr string, op Operator, values ...string) Condition {
	c := Condition{Attr: attr, Op: op}
	if op.takesList() {
		c.Values = values
	} else if len(values) > 0 {
		c.Value = values[0]
	}
	return c
}

// AllOf builds a condition that needs every child to match.
func AllOf(cs ...Condition) Condition { return Condition{All: cs} }

// AnyOf builds a condition that needs at least one child to match.
func AnyOf(cs ...Condition) Condition { return Condition{Any: cs} }

// MaxConditionDepth bounds nesting so a stored route cannot make evaluation
// or validation recurse without limit; real routing rules are two or three
// levels deep.
const MaxConditionDepth = 8

// DateLayout is the calendar-date format accepted in conditions and facts.
const DateLayout = "2006-01-02"

// Validate checks the tree. The returned *ValidationError's Field is relative
// to this node ("any[0].attr"); Route.Validate prefixes it with "match".
func (c Condition) Validate() error { return c.validate(1) }

func (c Condition) validate(depth int) error {
	if depth > MaxConditionDepth {
		return invalid("", "conditions may be nested at most %d levels deep", MaxConditionDepth)
	}
	isLeaf := c.Attr != "" || c.Op != "" || c.Value != "" || c.Values != nil
	forms := 0
	for _, set := range []bool{c.All != nil, c.Any != nil, isLeaf} {
		if set {
			forms++
		}
	}
	switch {
	case forms == 0:
		return invalid("", "a condition needs attr/op/value, all or any")
	case forms > 1:
		return invalid("", "a condition is exactly one of: an attribute test, all, or any")
	case c.All != nil:
		return validateChildren("all", c.All, depth)
	case c.Any != nil:
		return validateChildren("any", c.Any, depth)
	}
	return c.validateLeaf()
}

func validateChildren(kind string, cs []Condition, depth int) error {
	if len(cs) == 0 {
		return invalid(kind, "%s needs at least one condition", kind)
	}
	for i, child := range cs {
		if err := child.validate(depth + 1); err != nil {
			return prefixed(fmt.Sprintf("%s[%d]", kind, i), err)
		}
	}
	return nil
}

func (c Condition) validateLeaf() error {
	if c.Attr == "" {
		return invalid("attr", "attribute is required")
	}
	typ, ok := attributeType(c.Attr)
	if !ok {
		return invalid("attr", "unknown attribute %q (want channel, from, to, content, tags, isVisitor or customer.<name>)", c.Attr)
	}
	switch {
	case c.Op == "":
		return invalid("op", "operator is required")
	case !knownOperator(c.Op):
		return invalid("op", "unknown operator %q", c.Op)
	case !typ.allows(c.Op):
		return invalid("op", "operator %s does not apply to %s attribute %s", c.Op, typ, c.Attr)
	}
	if c.Op.takesList() {
		if c.Value != "" {
			return invalid("value", "operator %s takes a list in values, not value", c.Op)
		}
		if len(c.Values) == 0 {
			return invalid("values", "operator %s needs at least one value", c.Op)
		}
		for i, v := range c.Values {
			if err := checkValue(typ, c.Op, v); err != nil {
				return prefixed(fmt.Sprintf("values[%d]", i), err)
			}
		}
		return nil
	}
	if c.Values != nil {
		return invalid("values", "operator %s takes a single value, not values", c.Op)
	}
	if err := checkValue(typ, c.Op, c.Value); err != nil {
		return prefixed("value", err)
	}
	return nil
}

// checkValue returns a ValidationError with an empty field; the caller
// prefixes the field it came from.
func checkValue(typ attrType, op Operator, v string) error {
	if strings.TrimSpace(v) == "" {
		return invalid("", "value is required")
	}
	switch {
	case typ == typeChannel:
		if _, err := ChannelOf(v); err != nil {
			return invalid("", "unknown channel %q", v)
		}
	case typ == typeBool:
		if _, ok := parseBool(v); !ok {
			return invalid("", "value must be \"true\" or \"false\", got %q", v)
		}
	case typ == typeDate || isDateOp(op):
		if _, ok := parseDate(v); !ok {
			return invalid("", "value must be a date (%s) or an RFC 3339 date-time, got %q", DateLayout, v)
		}
	}
	return nil
}

func isDateOp(op Operator) bool {
	return op == OpBefore || op == OpAfter || op == OpOnOrBefore || op == OpOnOrAfter
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// dateValue is a parsed date or date-time. A calendar date has no instant, so
// whenever either side of a comparison is date-only both are compared as
// calendar dates, each taken in the offset it was written in (a birth date is
// the same day everywhere). Two date-times compare as instants.
type dateValue struct {
	t        time.Time
	dateOnly bool
}

func parseDate(s string) (dateValue, bool) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(DateLayout, s); err == nil {
		return dateValue{t: t, dateOnly: true}, true
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return dateValue{t: t}, true
	}
	return dateValue{}, false
}

// compareDates returns -1, 0 or +1.
func compareDates(a, b dateValue) int {
	if a.dateOnly || b.dateOnly {
		ka, kb := dayKey(a.t), dayKey(b.t)
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	}
	return a.t.Compare(b.t)
}

func dayKey(t time.Time) int {
	y, m, d := t.Date()
	return y*10000 + int(m)*100 + d
}
