// Package forms holds the rules of conversation forms: the input field types and
// the values they take, and which fields of a form show and must be filled for a
// conversation, given the values entered so far.
//
// A value belongs to the conversation and the field, not to the form: a form only
// chooses which fields show, so a field taken off the form (or another form
// chosen) keeps its value. A field placed on a form more than once must be
// conditional in every place; it shows once, when any of its places' conditions
// holds, and is mandatory when a place that shows is.
//
// The package is pure: callers load fields, forms and values and store the results.
package forms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// FieldType is the kind of input a field takes.
type FieldType string

// The field types.
const (
	// Text is one line of text.
	Text FieldType = "text"
	// Multiline is longer text, over several lines.
	Multiline FieldType = "multiline"
	// Checkbox is true or false; a mandatory checkbox must be checked.
	Checkbox FieldType = "checkbox"
	// Dropdown is one of the field's options, each a path of levels
	// ("Clothing: Shirts" is the value Shirts under Clothing).
	Dropdown FieldType = "dropdown"
	// Integer is a whole number.
	Integer FieldType = "integer"
	// Decimal is a decimal number.
	Decimal FieldType = "decimal"
	// Datetime is an RFC 3339 date and time, kept in UTC.
	Datetime FieldType = "datetime"
	// Regex is text that must match the field's pattern as a whole.
	Regex FieldType = "regex"
)

// Valid reports whether t is a known type.
func (t FieldType) Valid() bool {
	switch t {
	case Text, Multiline, Checkbox, Dropdown, Integer, Decimal, Datetime, Regex:
		return true
	}
	return false
}

// Limits of forms.
const (
	// MaxFieldsPerTenant bounds the input fields of an account.
	MaxFieldsPerTenant = 10000
	// MaxFieldsPerConversation bounds the fields a form places and the values one
	// conversation keeps.
	MaxFieldsPerConversation = 500
	// MaxTextLength and MaxMultilineLength bound text values, in characters.
	MaxTextLength      = 1000
	MaxMultilineLength = 10000
	// MaxOptions bounds a dropdown's options; MaxLevels their depth.
	MaxOptions = 1000
	MaxLevels  = 5
	// MaxOptionLevel bounds one level of an option, in characters.
	MaxOptionLevel = 100
	// MaxPattern bounds a regex field's pattern.
	MaxPattern = 500
	// MaxConditionValues bounds the values a condition lists.
	MaxConditionValues = 50
)

// LevelSeparator separates the levels of a dropdown option.
const LevelSeparator = ": "

// Error is a refused input: the field path and why.
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string { return e.Field + ": " + e.Message }

func fail(field, format string, args ...any) error {
	return &Error{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Field is an input field as the rules need it.
type Field struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Type    FieldType `json:"type"`
	Options []string  `json:"options,omitempty"`
	Pattern string    `json:"pattern,omitempty"`
}

// NormalizeOptions checks a dropdown's options and writes each in its canonical
// form: levels trimmed and joined by LevelSeparator. field names the list.
func NormalizeOptions(field string, opts []string) ([]string, error) {
	if len(opts) == 0 {
		return nil, fail(field, "a dropdown needs at least one option")
	}
	if len(opts) > MaxOptions {
		return nil, fail(field, "at most %d options", MaxOptions)
	}
	out := make([]string, len(opts))
	seen := map[string]bool{}
	for i, o := range opts {
		levels := strings.Split(o, ":")
		if len(levels) > MaxLevels {
			return nil, fail(fmt.Sprintf("%s[%d]", field, i), "at most %d levels", MaxLevels)
		}
		for j, l := range levels {
			l = strings.TrimSpace(l)
			if l == "" || utf8.RuneCountInString(l) > MaxOptionLevel || strings.ContainsFunc(l, unicode.IsControl) {
				return nil, fail(fmt.Sprintf("%s[%d]", field, i), "each level is 1 to %d characters (levels are separated by ':')", MaxOptionLevel)
			}
			levels[j] = l
		}
		out[i] = strings.Join(levels, LevelSeparator)
		if seen[strings.ToLower(out[i])] {
			return nil, fail(fmt.Sprintf("%s[%d]", field, i), "option %q is listed twice", out[i])
		}
		seen[strings.ToLower(out[i])] = true
	}
	return out, nil
}

// CompilePattern checks a regex field's pattern and compiles it to match a whole
// value.
func CompilePattern(field, p string) (*regexp.Regexp, error) {
	if p == "" || utf8.RuneCountInString(p) > MaxPattern {
		return nil, fail(field, "a regex field needs a pattern of 1 to %d characters", MaxPattern)
	}
	re, err := regexp.Compile(`^(?:` + p + `)$`)
	if err != nil {
		return nil, fail(field, "not a valid regular expression: %v", err)
	}
	return re, nil
}

// Normalize checks a value given for f and returns it as stored, or nil when the
// value clears the field (JSON null, or an empty string for a text-like field).
// field names the value in errors.
func Normalize(f Field, field string, raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	switch f.Type {
	case Checkbox:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fail(field, "%s is a checkbox: true or false", f.Name)
		}
		return json.Marshal(b)
	case Integer, Decimal:
		var n json.Number
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&n); err != nil || raw[0] == '"' {
			return nil, fail(field, "%s takes a number", f.Name)
		}
		if f.Type == Integer {
			i, err := strconv.ParseInt(n.String(), 10, 64)
			if err != nil || i > 1<<53 || i < -(1<<53) {
				return nil, fail(field, "%s takes a whole number (up to 2^53)", f.Name)
			}
			return json.Marshal(i)
		}
		x, err := strconv.ParseFloat(n.String(), 64)
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fail(field, "%s takes a decimal number", f.Name)
		}
		return json.Marshal(x)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fail(field, "%s takes text", f.Name)
	}
	if f.Type != Multiline {
		s = strings.TrimSpace(s)
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if !utf8.ValidString(s) {
		return nil, fail(field, "%s takes UTF-8 text", f.Name)
	}
	switch f.Type {
	case Text:
		if utf8.RuneCountInString(s) > MaxTextLength || strings.ContainsFunc(s, unicode.IsControl) {
			return nil, fail(field, "%s takes one line of at most %d characters", f.Name, MaxTextLength)
		}
	case Multiline:
		if utf8.RuneCountInString(s) > MaxMultilineLength || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }) {
			return nil, fail(field, "%s takes at most %d characters", f.Name, MaxMultilineLength)
		}
	case Dropdown:
		opt, ok := option(f.Options, s)
		if !ok {
			return nil, fail(field, "%q is not an option of %s", s, f.Name)
		}
		s = opt
	case Datetime:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fail(field, "%s takes an RFC 3339 date and time such as 2026-03-01T09:30:00Z", f.Name)
		}
		s = t.UTC().Format(time.RFC3339Nano)
	case Regex:
		re, err := CompilePattern(field, f.Pattern)
		if err != nil {
			return nil, fail(field, "%s has no valid pattern", f.Name)
		}
		if utf8.RuneCountInString(s) > MaxTextLength || !re.MatchString(s) {
			return nil, fail(field, "%q does not match the pattern of %s", s, f.Name)
		}
	default:
		return nil, fail(field, "%s has an unknown type %q", f.Name, f.Type)
	}
	return json.Marshal(s)
}

// option finds v among opts, ignoring case and spacing around the levels.
func option(opts []string, v string) (string, bool) {
	norm, err := NormalizeOptions("", []string{v})
	if err != nil {
		return "", false
	}
	for _, o := range opts {
		if strings.EqualFold(o, norm[0]) {
			return o, true
		}
	}
	return "", false
}

// AsText is a stored value as text, the form conditions compare: true/false for a
// checkbox, the number as written, the text itself otherwise.
func AsText(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	return string(bytes.TrimSpace(raw))
}

// Condition shows an item when another field, placed before it on the form, has one
// of Values. A dropdown's value matches a listed level too ("Clothing" matches
// "Clothing: Shirts"); text compares ignoring case.
type Condition struct {
	FieldID string   `json:"fieldId"`
	Values  []string `json:"values"`
}

// Matches reports whether the stored value matches the condition.
func (c Condition) Matches(t FieldType, raw json.RawMessage) bool {
	if raw == nil {
		return false
	}
	v := AsText(raw)
	for _, want := range c.Values {
		want = strings.TrimSpace(want)
		if strings.EqualFold(v, want) {
			return true
		}
		if t == Dropdown {
			if n, err := NormalizeOptions("", []string{want}); err == nil && hasLevelPrefix(v, n[0]) {
				return true
			}
		}
	}
	return false
}

func hasLevelPrefix(v, prefix string) bool {
	return len(v) > len(prefix) && strings.EqualFold(v[:len(prefix)], prefix) && strings.HasPrefix(v[len(prefix):], LevelSeparator)
}

// Item is one place of a field on a form.
type Item struct {
	FieldID  string     `json:"fieldId"`
	Required bool       `json:"required"`
	ShowWhen *Condition `json:"showWhen,omitempty"`
}

// ValidateItems checks a form's items against the tenant's fields (by ID; a field
// missing from fields is unknown): at most MaxFieldsPerConversation distinct
// fields, a field placed more than once conditional in every place, and each
// condition on a field placed before, with 1 to MaxConditionValues values that the
// field can take.
func ValidateItems(items []Item, fields map[string]Field) error {
	if len(items) > 2*MaxFieldsPerConversation {
		return fail("items", "at most %d places", 2*MaxFieldsPerConversation)
	}
	count := map[string]int{}
	for i, it := range items {
		if _, ok := fields[it.FieldID]; !ok {
			return fail(fmt.Sprintf("items[%d].fieldId", i), "no such input field in this tenant")
		}
		count[it.FieldID]++
	}
	if len(count) > MaxFieldsPerConversation {
		return fail("items", "a form places at most %d fields", MaxFieldsPerConversation)
	}
	placed := map[string]bool{}
	for i, it := range items {
		at := fmt.Sprintf("items[%d]", i)
		if count[it.FieldID] > 1 && it.ShowWhen == nil {
			return fail(at+".showWhen", "%s is placed more than once, so it must be conditional in every place", fields[it.FieldID].Name)
		}
		if c := it.ShowWhen; c != nil {
			ctl, ok := fields[c.FieldID]
			switch {
			case !ok || !placed[c.FieldID]:
				return fail(at+".showWhen.fieldId", "must be a field placed before on the form")
			case c.FieldID == it.FieldID:
				return fail(at+".showWhen.fieldId", "a field cannot depend on itself")
			case len(c.Values) == 0 || len(c.Values) > MaxConditionValues:
				return fail(at+".showWhen.values", "list 1 to %d values", MaxConditionValues)
			}
			for j, v := range c.Values {
				if err := conditionValue(ctl, strings.TrimSpace(v)); err != nil {
					return fail(fmt.Sprintf("%s.showWhen.values[%d]", at, j), "%s", err.Error())
				}
			}
		}
		placed[it.FieldID] = true
	}
	return nil
}

func conditionValue(ctl Field, v string) error {
	switch {
	case v == "" || utf8.RuneCountInString(v) > MaxTextLength:
		return fmt.Errorf("must be 1 to %d characters", MaxTextLength)
	case ctl.Type == Checkbox && v != "true" && v != "false":
		return fmt.Errorf("%s is a checkbox: true or false", ctl.Name)
	case ctl.Type == Dropdown:
		n, err := NormalizeOptions("", []string{v})
		if err != nil {
			return fmt.Errorf("not an option of %s", ctl.Name)
		}
		for _, o := range ctl.Options {
			if strings.EqualFold(o, n[0]) || hasLevelPrefix(o, n[0]) {
				return nil
			}
		}
		return fmt.Errorf("%q is neither an option nor a level of %s", v, ctl.Name)
	}
	return nil
}

// Shown is a field of a form as a conversation shows it.
type Shown struct {
	FieldID string `json:"fieldId"`
	// Visible: the field shows (it is unconditional, or a condition holds).
	Visible bool `json:"visible"`
	// Required: a place of the field that shows is mandatory.
	Required bool `json:"required"`
	// Filled: the conversation has a value for it (a checked checkbox).
	Filled bool `json:"filled"`
}

// Evaluate walks the form's items with the conversation's values (by field ID) and
// returns its fields once each, in order of their first place, with whether they
// show, must be filled and are.
func Evaluate(items []Item, fields map[string]Field, values map[string]json.RawMessage) []Shown {
	var out []Shown
	index := map[string]int{}
	for _, it := range items {
		i, seen := index[it.FieldID]
		if !seen {
			i = len(out)
			index[it.FieldID] = i
			out = append(out, Shown{FieldID: it.FieldID, Filled: filled(fields[it.FieldID], values[it.FieldID])})
		}
		visible := true
		if c := it.ShowWhen; c != nil {
			j, placed := index[c.FieldID]
			visible = placed && out[j].Visible && c.Matches(fields[c.FieldID].Type, values[c.FieldID])
		}
		if visible {
			out[i].Visible = true
			out[i].Required = out[i].Required || it.Required
		}
	}
	return out
}

// Missing are the fields that show, must be filled and are not.
func Missing(shown []Shown) []string {
	var out []string
	for _, s := range shown {
		if s.Visible && s.Required && !s.Filled {
			out = append(out, s.FieldID)
		}
	}
	return out
}

func filled(f Field, raw json.RawMessage) bool {
	if raw == nil {
		return false
	}
	if f.Type == Checkbox {
		return AsText(raw) == "true"
	}
	return true
}
