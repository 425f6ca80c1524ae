package voicewait

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The queue position placeholders an announcement's text may hold.
const (
	// PlaceholderOrdinal renders the position as an ordinal ("you are {position:ordinal}
	// in line" → "you are 3rd in line"); only languages with an ordinal form take it.
	PlaceholderOrdinal = "{position:ordinal}"
	// PlaceholderCardinal renders the position as a number ("{position:cardinal}" → "3").
	PlaceholderCardinal = "{position:cardinal}"
	// PlaceholderAdaptive lets the language decide: the ordinal where the language has
	// one, the cardinal number elsewhere.
	PlaceholderAdaptive = "{position:adaptive}"
)

var placeholder = regexp.MustCompile(`\{[^{}]*\}`)

// ordinals are the written ordinal forms the speech engine reads as ordinals, per
// base language.
var ordinals = map[string]func(n int) string{
	"en": englishOrdinal,
	"de": dotted, "hr": dotted, "sr": dotted, "bs": dotted, "sl": dotted, "cs": dotted, "sk": dotted,
	"pl": dotted, "hu": dotted, "da": dotted, "nb": dotted, "no": dotted, "fi": dotted, "tr": dotted,
	"fr": func(n int) string {
		if n == 1 {
			return "1er"
		}
		return strconv.Itoa(n) + "e"
	},
	"nl": func(n int) string { return strconv.Itoa(n) + "e" },
	"es": masculineOrdinal, "it": masculineOrdinal, "pt": masculineOrdinal,
}

func dotted(n int) string           { return strconv.Itoa(n) + "." }
func masculineOrdinal(n int) string { return strconv.Itoa(n) + "º" }

// englishOrdinal is 1st, 2nd, 3rd, 4th … 11th, 12th, 13th … 21st, 22nd, 23rd ….
func englishOrdinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return strconv.Itoa(n) + suffix
}

func baseLanguage(language string) string {
	l := strings.ToLower(language)
	if i := strings.IndexAny(l, "-_"); i >= 0 {
		l = l[:i]
	}
	return l
}

// HasOrdinal reports whether the language has an ordinal form.
func HasOrdinal(language string) bool {
	_, ok := ordinals[baseLanguage(language)]
	return ok
}

// Ordinal renders n as an ordinal in the language, ok false where it has none.
func Ordinal(language string, n int) (string, bool) {
	f, ok := ordinals[baseLanguage(language)]
	if !ok {
		return "", false
	}
	return f(n), true
}

// CheckPlaceholders reports the first placeholder in text the language cannot render,
// or an unknown one.
func CheckPlaceholders(text, language string) error {
	for _, p := range placeholder.FindAllString(text, -1) {
		switch p {
		case PlaceholderCardinal, PlaceholderAdaptive:
		case PlaceholderOrdinal:
			if !HasOrdinal(language) {
				return fmt.Errorf("%s is not available in %s: use %s or %s", p, language, PlaceholderCardinal, PlaceholderAdaptive)
			}
		default:
			return fmt.Errorf("unknown placeholder %s: use %s, %s or %s", p, PlaceholderOrdinal, PlaceholderCardinal, PlaceholderAdaptive)
		}
	}
	return nil
}

// HasPosition reports whether text mentions the queue position.
func HasPosition(text string) bool {
	return strings.Contains(text, PlaceholderOrdinal) || strings.Contains(text, PlaceholderCardinal) ||
		strings.Contains(text, PlaceholderAdaptive)
}

// RenderPosition replaces the position placeholders of text with position in the
// language's form. A position below 1 (not known) renders as nothing.
func RenderPosition(text, language string, position int) string {
	card, ord := "", ""
	if position >= 1 {
		card = strconv.Itoa(position)
		ord = card
		if o, ok := Ordinal(language, position); ok {
			ord = o
		}
	}
	return strings.NewReplacer(PlaceholderOrdinal, ord, PlaceholderCardinal, card, PlaceholderAdaptive, ord).Replace(text)
}
