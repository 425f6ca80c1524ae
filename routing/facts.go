package routing

import "strings"

// Facts are the attributes of a new interaction that routes test. Empty
// strings mean "not known" (an anonymous visitor has no customer attributes),
// which makes every positive test on them false and every negated test true.
type Facts struct {
	// Channel is the capacity channel; when empty it is derived from Source.
	Channel Channel `json:"channel,omitempty"`
	// Source is the sub-channel as received, e.g. "whatsapp" or "sms".
	Source    string   `json:"source,omitempty"`
	From      string   `json:"from,omitempty"`
	To        string   `json:"to,omitempty"`
	Content   string   `json:"content,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	IsVisitor bool     `json:"isVisitor"`
	// Customer holds standard and custom person attributes by name, without
	// the "customer." prefix: {"city": "Zagreb", "tier": "gold"}.
	Customer     map[string]string `json:"customer,omitempty"`
	CustomerTags []string          `json:"customerTags,omitempty"`
}

// Matches reports whether the facts satisfy c. A malformed condition (one
// Validate would reject) never matches, so a bad stored rule cannot capture
// traffic; it also never panics.
func (c Condition) Matches(f Facts) bool {
	e := evaluator{f: &f}
	return e.eval(c, 1)
}

// evaluator caches lower-cased facts for one evaluation, since several
// conditions often test the same (possibly long) message content.
type evaluator struct {
	f     *Facts
	lower map[string]string
}

func fold(s string) string { return strings.ToLower(s) }

func (e *evaluator) folded(attr, s string) string {
	if v, ok := e.lower[attr]; ok {
		return v
	}
	if e.lower == nil {
		e.lower = make(map[string]string)
	}
	v := fold(s)
	e.lower[attr] = v
	return v
}

func (e *evaluator) eval(c Condition, depth int) bool {
	if depth > MaxConditionDepth {
		return false
	}
	isLeaf := c.Attr != "" || c.Op != "" || c.Value != "" || c.Values != nil
	switch {
	case c.All != nil && c.Any == nil && !isLeaf:
		if len(c.All) == 0 {
			return false
		}
		for _, child := range c.All {
			if !e.eval(child, depth+1) {
				return false
			}
		}
		return true
	case c.Any != nil && c.All == nil && !isLeaf:
		for _, child := range c.Any {
			if e.eval(child, depth+1) {
				return true
			}
		}
		return false
	case isLeaf && c.All == nil && c.Any == nil:
		return e.leaf(c)
	}
	return false
}

// positive maps each operator to the operator it negates; the positive form
// is evaluated and the result inverted, which keeps the two exact complements.
func positive(op Operator) (Operator, bool) {
	switch op {
	case OpIsNot:
		return OpIs, true
	case OpNotContains:
		return OpContains, true
	case OpNotInList:
		return OpInList, true
	}
	return op, false
}

func (e *evaluator) leaf(c Condition) bool {
	typ, ok := attributeType(c.Attr)
	if !ok || !typ.allows(c.Op) {
		return false
	}
	if c.Op.takesList() {
		if len(c.Values) == 0 {
			return false
		}
		for _, v := range c.Values {
			if checkValue(typ, c.Op, v) != nil {
				return false
			}
		}
	} else if checkValue(typ, c.Op, c.Value) != nil {
		return false
	}
	op, negated := positive(c.Op)
	return e.test(typ, c, op) != negated
}

func (e *evaluator) test(typ attrType, c Condition, op Operator) bool {
	switch typ {
	case typeChannel:
		return e.anyValue(c, op, e.channelIs)
	case typeBool:
		want, _ := parseBool(c.Value)
		return e.f.IsVisitor == want
	case typeList:
		tags := e.f.Tags
		if c.Attr != AttrTags {
			tags = e.f.CustomerTags
		}
		return e.anyValue(c, op, func(v string) bool { return hasTag(tags, v) })
	}
	s := e.text(c.Attr)
	if s == "" {
		return false
	}
	if typ == typeDate || isDateOp(op) {
		return dateTest(s, c.Value, op)
	}
	switch op {
	case OpIs, OpInList:
		return e.anyValue(c, op, func(v string) bool { return e.folded(c.Attr, s) == fold(v) })
	case OpContains:
		return strings.Contains(e.folded(c.Attr, s), fold(c.Value))
	case OpStartsWith:
		return strings.HasPrefix(e.folded(c.Attr, s), fold(c.Value))
	}
	return false
}

// anyValue applies match to Value, or to each of Values for in_list.
func (e *evaluator) anyValue(c Condition, op Operator, match func(string) bool) bool {
	if op != OpInList {
		return match(c.Value)
	}
	for _, v := range c.Values {
		if match(v) {
			return true
		}
	}
	return false
}

// channelIs matches a channel name against the interaction's channel and a
// sub-channel name ("whatsapp") against its source, so a route can target a
// whole channel or one transport within it.
func (e *evaluator) channelIs(v string) bool {
	want := normalizeSource(v)
	if ch := Channel(want); ch.Valid() {
		got := e.f.Channel
		if got == "" {
			got, _ = ChannelOf(e.f.Source)
		}
		return got == ch
	}
	return e.f.Source != "" && normalizeSource(e.f.Source) == want
}

func hasTag(tags []string, v string) bool {
	for _, t := range tags {
		if fold(t) == fold(v) {
			return true
		}
	}
	return false
}

func (e *evaluator) text(attr string) string {
	switch attr {
	case AttrFrom:
		return e.f.From
	case AttrTo:
		return e.f.To
	case AttrContent:
		return e.f.Content
	}
	name, _ := strings.CutPrefix(attr, CustomerPrefix)
	return e.f.Customer[name]
}

// dateTest compares a fact with a condition value; a fact that is not a date
// makes the positive test false.
func dateTest(fact, value string, op Operator) bool {
	a, ok := parseDate(fact)
	if !ok {
		return false
	}
	b, ok := parseDate(value)
	if !ok {
		return false
	}
	cmp := compareDates(a, b)
	switch op {
	case OpIs:
		return cmp == 0
	case OpBefore:
		return cmp < 0
	case OpAfter:
		return cmp > 0
	case OpOnOrBefore:
		return cmp <= 0
	case OpOnOrAfter:
		return cmp >= 0
	}
	return false
}
