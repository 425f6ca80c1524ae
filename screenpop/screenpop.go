// Package screenpop resolves the CRM pages an agent's desktop opens: a campaign's
// screen pop URL when an interaction rings on or connects to the agent, and its
// knowledge base URL at login. Both are URL templates with placeholders in braces,
// {name}, replaced by the interaction's (or the agent's) values, each
// percent-encoded, so that a value can never add a query parameter or change the
// page:
//
//	https://crm.example.com/pop?phone={phone}&ixn={interactionId}&order={metadata.orderId}
//
// Placeholders may appear only after the host (in the path, query or fragment): the
// page's origin is fixed by whoever configures it, never by an interaction's data. A
// value that is unknown for an interaction (no customer linked, no agent yet…)
// resolves to the empty string.
package screenpop

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Placeholders of the screen pop (and, where listed in LoginPlaceholders, of the
// knowledge base URL).
const (
	InteractionID = "interactionId"
	TenantID      = "tenantId"
	CampaignID    = "campaignId"
	CampaignName  = "campaignName"
	QueueID       = "queueId"
	// UserID and UserName are the agent the page opens for.
	UserID   = "userId"
	UserName = "userName"
	// CustomerID is the customer record linked to the interaction (Customer 360).
	CustomerID   = "customerId"
	CustomerName = "customerName"
	// Phone is the customer's phone number as received.
	Phone = "phone"
	// DisplayPhone is the contact center's number on the call: the number the
	// customer dialled (inbound) or the caller ID shown to them (outbound).
	DisplayPhone = "displayPhone"
	// CallType is inbound or outbound.
	CallType = "callType"
	// Channel is voice, live_chat, live_messaging or email; Source the sub-channel
	// as received (whatsapp, sms, web_chat…).
	Channel = "channel"
	Source  = "source"
	// Locale is the campaign's language (BCP 47).
	Locale = "locale"
	// GeneratedTime is when the page was resolved, in Unix milliseconds.
	GeneratedTime = "crm_push_generated_time"
	// MetadataPrefix starts a placeholder of the interaction's custom metadata:
	// {metadata.orderId}.
	MetadataPrefix = "metadata."
)

// InteractionPlaceholders are the names a screen pop URL may use, besides
// {metadata.<key>}.
var InteractionPlaceholders = []string{
	InteractionID, TenantID, CampaignID, CampaignName, QueueID, UserID, UserName, CustomerID, CustomerName,
	Phone, DisplayPhone, CallType, Channel, Source, Locale, GeneratedTime,
}

// LoginPlaceholders are the names a knowledge base URL may use: the agent's context,
// without an interaction.
var LoginPlaceholders = []string{UserID, UserName, TenantID, CampaignID, CampaignName, Locale, GeneratedTime}

// MaxLength bounds a template, in characters.
const MaxLength = 2000

// Kind says which placeholders a template may use.
type Kind int

const (
	// Interaction is a screen pop: InteractionPlaceholders and metadata.
	Interaction Kind = iota
	// Login is a knowledge base page: LoginPlaceholders.
	Login
)

func (k Kind) names() []string {
	if k == Login {
		return LoginPlaceholders
	}
	return InteractionPlaceholders
}

var (
	namePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// metadataKey is the grammar of an interaction's metadata keys.
	metadataKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)
)

// part is a literal run of a template, or a placeholder when name is set.
type part struct {
	lit  string
	name string
}

// Template is a parsed URL template.
type Template struct {
	raw   string
	parts []part
}

// String is the template as written.
func (t Template) String() string { return t.raw }

// IsZero reports whether t is no template at all.
func (t Template) IsZero() bool { return t.raw == "" }

// Uses reports whether the template has the placeholder name.
func (t Template) Uses(name string) bool {
	return slices.ContainsFunc(t.parts, func(p part) bool { return p.name == name })
}

// Names lists the template's placeholders in order of appearance, once each.
func (t Template) Names() []string {
	var out []string
	for _, p := range t.parts {
		if p.name != "" && !slices.Contains(out, p.name) {
			out = append(out, p.name)
		}
	}
	return out
}

// Values are a placeholder's values by name; metadata under "metadata.<key>".
type Values map[string]string

// Resolve replaces every placeholder by its value, percent-encoded (RFC 3986:
// everything but letters, digits and -._~), so it is safe in a path segment, a
// query value and a fragment alike. A missing value is empty.
func (t Template) Resolve(v Values) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.lit)
			continue
		}
		b.WriteString(Escape(v[p.name]))
	}
	return b.String()
}

// Escape percent-encodes every byte of s but the unreserved characters of RFC 3986
// (A-Z a-z 0-9 - . _ ~); a space becomes %20.
func Escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// ErrInvalid marks a template that cannot be used; the message says why.
var ErrInvalid = errors.New("invalid URL template")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Message is the reason of a Parse error, without the ErrInvalid prefix, for an
// answer that names the field.
func Message(err error) string {
	return strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")
}

// sample is what each placeholder stands for when a template is checked: it holds
// the characters escaping must take care of.
const sample = "Sample value/?&#=+%"

// Parse checks a template of the kind and parses it. The template must be an
// absolute http or https URL once sample values are put in; its placeholders must
// be names of the kind and come after the host; it holds no whitespace, control
// characters or stray braces, and no credentials.
func Parse(raw string, kind Kind) (Template, error) {
	t := Template{raw: raw}
	if raw == "" {
		return t, invalid("is empty")
	}
	if n := utf8.RuneCountInString(raw); n > MaxLength {
		return t, invalid("must be at most %d characters", MaxLength)
	}
	if i := strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); i >= 0 {
		return t, invalid("must not contain whitespace or control characters (percent-encode them, e.g. %%20)")
	}
	lower := strings.ToLower(raw)
	var rest string
	switch {
	case strings.HasPrefix(lower, "https://"):
		rest = raw[len("https://"):]
	case strings.HasPrefix(lower, "http://"):
		rest = raw[len("http://"):]
	default:
		return t, invalid("must be an absolute http:// or https:// URL")
	}
	// The authority ends at the first '/', '?' or '#' after the scheme.
	authorityEnd := len(raw)
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authorityEnd = len(raw) - len(rest) + i
	}
	for i := 0; i < len(raw); {
		open := strings.IndexAny(raw[i:], "{}")
		if open < 0 {
			t.parts = append(t.parts, part{lit: raw[i:]})
			break
		}
		open += i
		if raw[open] == '}' {
			return t, invalid("has a '}' without its '{' at character %d (write a literal brace as %%7D)", open+1)
		}
		if open > i {
			t.parts = append(t.parts, part{lit: raw[i:open]})
		}
		end := strings.IndexAny(raw[open+1:], "{}")
		if end < 0 || raw[open+1+end] != '}' {
			return t, invalid("has a '{' without its '}' at character %d (write a literal brace as %%7B)", open+1)
		}
		name := raw[open+1 : open+1+end]
		if open > 0 && raw[open-1] == '$' {
			return t, invalid("writes placeholders as {%s}, not ${%s}", name, name)
		}
		if err := checkName(name, kind); err != nil {
			return t, err
		}
		if open < authorityEnd {
			return t, invalid("placeholder {%s} is in the host: placeholders go in the path, query or fragment", name)
		}
		t.parts = append(t.parts, part{name: name})
		i = open + 1 + end + 1
	}
	values := Values{}
	for _, name := range t.Names() {
		values[name] = sample
	}
	u, err := url.Parse(t.Resolve(values))
	switch {
	case err != nil:
		return t, invalid("is not a URL: %v", unwrapURLError(err))
	case u.Scheme != "http" && u.Scheme != "https" || !u.IsAbs():
		return t, invalid("must be an absolute http:// or https:// URL")
	case u.Host == "" || u.Hostname() == "":
		return t, invalid("must name a host")
	case u.User != nil:
		return t, invalid("must not carry credentials (user:password@): the URL is shown to agents")
	}
	return t, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func checkName(name string, kind Kind) error {
	if key, ok := strings.CutPrefix(name, MetadataPrefix); ok {
		if kind != Interaction {
			return invalid("unknown placeholder {%s}: metadata belongs to interactions; known: %s", name, known(kind))
		}
		if !metadataKey.MatchString(key) {
			return invalid("placeholder {%s}: metadata keys are letters, digits, '_' and '-', starting with a letter or '_', at most 64", name)
		}
		return nil
	}
	if !namePattern.MatchString(name) || !slices.Contains(kind.names(), name) {
		return invalid("unknown placeholder {%s}; known: %s", name, known(kind))
	}
	return nil
}

func known(kind Kind) string {
	names := make([]string, 0, len(kind.names())+1)
	for _, n := range kind.names() {
		names = append(names, "{"+n+"}")
	}
	if kind == Interaction {
		names = append(names, "{metadata.<key>}")
	}
	return strings.Join(names, ", ")
}
