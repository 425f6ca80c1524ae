package screenpop_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"switchboard/screenpop"
)

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		kind      screenpop.Kind
		want      string // part of the message
	}{
		{"empty", "", screenpop.Interaction, "is empty"},
		{"relative", "/pop?phone={phone}", screenpop.Interaction, "absolute http"},
		{"other scheme", "javascript:alert({phone})", screenpop.Interaction, "absolute http"},
		{"ftp", "ftp://crm.example.com/{phone}", screenpop.Interaction, "absolute http"},
		{"unknown placeholder", "https://crm.example.com/pop?x={customerEmail}", screenpop.Interaction, "unknown placeholder {customerEmail}"},
		{"case matters", "https://crm.example.com/pop?x={Phone}", screenpop.Interaction, "unknown placeholder {Phone}"},
		{"empty placeholder", "https://crm.example.com/pop?x={}", screenpop.Interaction, "unknown placeholder {}"},
		{"dollar form", "https://crm.example.com/pop?x=${phone}", screenpop.Interaction, "not ${phone}"},
		{"unclosed", "https://crm.example.com/pop?x={phone", screenpop.Interaction, "without its '}'"},
		{"nested", "https://crm.example.com/pop?x={ph{one}}", screenpop.Interaction, "without its '}'"},
		{"stray close", "https://crm.example.com/pop?x=phone}", screenpop.Interaction, "without its '{'"},
		{"in the host", "https://{tenantId}.crm.example.com/pop", screenpop.Interaction, "is in the host"},
		{"as the host", "https://{metadata.host}/pop", screenpop.Interaction, "is in the host"},
		{"whitespace", "https://crm.example.com/pop?name= {customerName}", screenpop.Interaction, "whitespace"},
		{"newline", "https://crm.example.com/pop\n?x={phone}", screenpop.Interaction, "whitespace"},
		{"no host", "https:///pop?x={phone}", screenpop.Interaction, "host"},
		{"credentials", "https://admin:secret@crm.example.com/pop?x={phone}", screenpop.Interaction, "credentials"},
		{"bad metadata key", "https://crm.example.com/pop?x={metadata.order id}", screenpop.Interaction, "whitespace"},
		{"bad metadata key 2", "https://crm.example.com/pop?x={metadata.9x}", screenpop.Interaction, "metadata keys"},
		{"metadata at login", "https://kb.example.com/?x={metadata.orderId}", screenpop.Login, "unknown placeholder {metadata.orderId}"},
		{"interaction placeholder at login", "https://kb.example.com/?x={phone}", screenpop.Login, "unknown placeholder {phone}"},
		{"too long", "https://crm.example.com/" + strings.Repeat("a", screenpop.MaxLength), screenpop.Interaction, "at most"},
		{"bad port", "https://crm.example.com:port/pop", screenpop.Interaction, "not a URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := screenpop.Parse(tc.raw, tc.kind)
			if !errors.Is(err, screenpop.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q) = %v, want an invalid template saying %q", tc.raw, err, tc.want)
			}
		})
	}
}

func TestUnknownPlaceholderListsTheKnownOnes(t *testing.T) {
	_, err := screenpop.Parse("https://crm.example.com/?x={nope}", screenpop.Interaction)
	msg := screenpop.Message(err)
	for _, want := range []string{"{nope}", "{interactionId}", "{crm_push_generated_time}", "{metadata.<key>}"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not mention %s", msg, want)
		}
	}
	if strings.HasPrefix(msg, screenpop.ErrInvalid.Error()) {
		t.Errorf("Message kept the prefix: %q", msg)
	}
}

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		kind screenpop.Kind
		uses []string
	}{
		{"https://crm.example.com/pop", screenpop.Interaction, nil},
		{"HTTPS://crm.example.com/pop?p={phone}", screenpop.Interaction, []string{"phone"}},
		{"http://localhost:8080/crm/{interactionId}?p={phone}&d={displayPhone}#c={customerId}", screenpop.Interaction,
			[]string{"interactionId", "phone", "displayPhone", "customerId"}},
		{"https://crm.example.com/pop?o={metadata.order_id-2}&t={crm_push_generated_time}", screenpop.Interaction,
			[]string{"metadata.order_id-2", "crm_push_generated_time"}},
		{"https://crm.example.com/{tenantId}/{campaignId}/{queueId}/{userId}?n={userName}&c={callType}&ch={channel}&s={source}&l={locale}&cn={customerName}&k={campaignName}",
			screenpop.Interaction, []string{"tenantId", "campaignId", "queueId", "userId", "userName", "callType", "channel", "source", "locale", "customerName", "campaignName"}},
		{"https://kb.example.com/start?u={userId}&n={userName}&c={campaignId}&l={locale}", screenpop.Login,
			[]string{"userId", "userName", "campaignId", "locale"}},
		// The authority ends at '?' or '#' as well as '/'.
		{"https://crm.example.com?p={phone}", screenpop.Interaction, []string{"phone"}},
		{"https://crm.example.com#{phone}", screenpop.Interaction, []string{"phone"}},
	} {
		tpl, err := screenpop.Parse(tc.raw, tc.kind)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.raw, err)
			continue
		}
		if got := tpl.Names(); strings.Join(got, ",") != strings.Join(tc.uses, ",") {
			t.Errorf("Parse(%q).Names() = %v, want %v", tc.raw, got, tc.uses)
		}
		for _, n := range tc.uses {
			if !tpl.Uses(n) {
				t.Errorf("%q does not use %s", tc.raw, n)
			}
		}
		if tpl.String() != tc.raw {
			t.Errorf("String() = %q", tpl.String())
		}
	}
}

func TestResolveEscapesEveryValue(t *testing.T) {
	tpl, err := screenpop.Parse("https://crm.example.com/customers/{customerName}?phone={phone}&ixn={interactionId}&order={metadata.order}#{userName}", screenpop.Interaction)
	if err != nil {
		t.Fatal(err)
	}
	got := tpl.Resolve(screenpop.Values{
		"customerName":   "Ana Kovač/../admin",
		"phone":          "+385 91 234&x=1",
		"interactionId":  "8c1f-ab",
		"metadata.order": "A#1?b=2%",
		"userName":       "Bo ~ O'Neil",
	})
	want := "https://crm.example.com/customers/Ana%20Kova%C4%8D%2F..%2Fadmin?phone=%2B385%2091%20234%26x%3D1&ixn=8c1f-ab&order=A%231%3Fb%3D2%25#Bo%20~%20O%27Neil"
	if got != want {
		t.Fatalf("Resolve:\n got %s\nwant %s", got, want)
	}
	// A value never adds a parameter or changes the path: the URL parses back to
	// exactly the values given.
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if len(q) != 3 || q.Get("phone") != "+385 91 234&x=1" || q.Get("order") != "A#1?b=2%" || q.Get("ixn") != "8c1f-ab" {
		t.Errorf("query parsed back as %v", q)
	}
	if u.Path != "/customers/Ana Kovač/../admin" || u.RawPath == "" {
		t.Errorf("path parsed back as %q (raw %q)", u.Path, u.RawPath)
	}
	if u.Fragment != "Bo ~ O'Neil" {
		t.Errorf("fragment parsed back as %q", u.Fragment)
	}
}

func TestResolveMissingValuesAreEmpty(t *testing.T) {
	tpl, err := screenpop.Parse("https://crm.example.com/pop?c={customerId}&p={phone}&m={metadata.absent}", screenpop.Interaction)
	if err != nil {
		t.Fatal(err)
	}
	if got := tpl.Resolve(screenpop.Values{"phone": "123"}); got != "https://crm.example.com/pop?c=&p=123&m=" {
		t.Errorf("Resolve = %s", got)
	}
	if got := tpl.Resolve(nil); got != "https://crm.example.com/pop?c=&p=&m=" {
		t.Errorf("Resolve(nil) = %s", got)
	}
}

func TestResolveKeepsLiteralsAsWritten(t *testing.T) {
	raw := "https://crm.example.com/a%20b/pop?fixed=x%2By&p={phone}&empty="
	tpl, err := screenpop.Parse(raw, screenpop.Interaction)
	if err != nil {
		t.Fatal(err)
	}
	if got := tpl.Resolve(screenpop.Values{"phone": "1 2"}); got != "https://crm.example.com/a%20b/pop?fixed=x%2By&p=1%202&empty=" {
		t.Errorf("Resolve = %s", got)
	}
	if (screenpop.Template{}).IsZero() != true || tpl.IsZero() {
		t.Error("IsZero")
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"":            "",
		"AZaz09-._~":  "AZaz09-._~",
		" ":           "%20",
		"+":           "%2B",
		"a&b=c":       "a%26b%3Dc",
		"é":           "%C3%A9",
		"100%":        "100%25",
		"{phone}":     "%7Bphone%7D",
		"\x00\n":      "%00%0A",
		"/?#[]@!$'()": "%2F%3F%23%5B%5D%40%21%24%27%28%29",
	} {
		if got := screenpop.Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkParseAndResolve is what one offer or connected event adds for its screen
// pop: the campaign's template parsed and resolved.
func BenchmarkParseAndResolve(b *testing.B) {
	raw := "https://crm.example.com/pop?ixn={interactionId}&phone={phone}&display={displayPhone}&agent={userId}&type={callType}&order={metadata.orderId}&t={crm_push_generated_time}"
	v := screenpop.Values{"interactionId": "8c1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b", "phone": "+385 91 234 5678", "displayPhone": "+385 1 555 0000",
		"userId": "1f0e9a2b-4c1d-4e6f-8a7b-9c0d1e2f3a4b", "callType": "inbound", "metadata.orderId": "A-1&b=2", "crm_push_generated_time": "1795000000000"}
	b.Run("parse and resolve", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tpl, err := screenpop.Parse(raw, screenpop.Interaction)
			if err != nil {
				b.Fatal(err)
			}
			_ = tpl.Resolve(v)
		}
	})
	b.Run("resolve", func(b *testing.B) {
		tpl, err := screenpop.Parse(raw, screenpop.Interaction)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			_ = tpl.Resolve(v)
		}
	})
}
