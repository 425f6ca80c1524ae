package sentiment

import (
	"bufio"
	_ "embed"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// lexiconData is the word list the default Lexicon scores with: one entry a line,
// "term<TAB>valence", the valence from -4 (most negative) to +4; a term may be a
// phrase of up to four words ("thank you", "waste of time"). Lines starting with #
// are comments.
//
//go:embed lexicon.tsv
var lexiconData string

// Lexicon scores text with a valence lexicon and rules in the manner of VADER:
// each word or phrase found adds its valence, shifted by the words around it — a
// negation among the three words before flips and damps it, a booster ("very") or
// dampener ("slightly") before it strengthens or weakens it, a word in capitals
// among lower-case words is stressed — words before a "but" count half and those
// after it half again as much, and exclamation marks stress the whole. The sum s is
// normalised to s/√(s²+15), in (-1, +1).
type Lexicon struct {
	terms map[string]float64
	// longest is the most words a term has.
	longest int
}

// Rules of the scorer (VADER's empirically derived constants).
const (
	negationScale   = -0.74
	boosterStep     = 0.293
	capsStep        = 0.733
	exclamationStep = 0.292
	maxExclamations = 4
	normAlpha       = 15
	butBefore       = 0.5
	butAfter        = 1.5
)

var (
	negations = set("not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "nowhere", "cannot",
		"cant", "can't", "dont", "don't", "doesnt", "doesn't", "didnt", "didn't", "isnt", "isn't", "wasnt", "wasn't",
		"arent", "aren't", "werent", "weren't", "wont", "won't", "wouldnt", "wouldn't", "shouldnt", "shouldn't",
		"couldnt", "couldn't", "havent", "haven't", "hasnt", "hasn't", "hadnt", "hadn't", "aint", "ain't",
		"without", "hardly", "barely", "rarely", "seldom", "lack", "lacks", "lacking", "neednt", "needn't")
	boosters = set("very", "really", "extremely", "so", "totally", "absolutely", "completely", "incredibly",
		"super", "truly", "highly", "utterly", "seriously", "deeply", "especially", "exceptionally",
		"particularly", "terribly", "awfully", "hugely", "immensely", "remarkably", "thoroughly", "most", "more",
		"too", "quite", "fully", "entirely", "majorly", "insanely", "ridiculously", "unbelievably", "way",
		"beyond", "such", "enormously", "tremendously", "extraordinarily", "damn", "freaking", "bloody")
	dampeners = set("slightly", "somewhat", "kinda", "sorta", "marginally", "partly", "fairly", "little",
		"bit", "less", "occasionally", "almost", "mostly", "moderately", "reasonably", "relatively", "mildly")
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

var (
	defaultOnce sync.Once
	defaultLex  *Lexicon
)

// Default is the Lexicon over the word list that ships with the package.
func Default() *Lexicon {
	defaultOnce.Do(func() {
		l, err := ParseLexicon(lexiconData)
		if err != nil {
			panic("sentiment: the embedded lexicon does not parse: " + err.Error())
		}
		defaultLex = l
	})
	return defaultLex
}

// ParseLexicon reads a word list in the form of the embedded one.
func ParseLexicon(data string) (*Lexicon, error) {
	l := &Lexicon{terms: map[string]float64{}, longest: 1}
	sc := bufio.NewScanner(strings.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		term, v, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("line %d: want term<TAB>valence", n)
		}
		val, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || val < -4 || val > 4 {
			return nil, fmt.Errorf("line %d: valence %q is not a number from -4 to 4", n, v)
		}
		words := strings.Fields(strings.ToLower(term))
		if len(words) == 0 || len(words) > 4 {
			return nil, fmt.Errorf("line %d: a term has one to four words", n)
		}
		key := strings.Join(words, " ")
		if _, dup := l.terms[key]; dup {
			return nil, fmt.Errorf("line %d: %q is listed twice", n, key)
		}
		l.terms[key] = val
		l.longest = max(l.longest, len(words))
	}
	return l, sc.Err()
}

// Len is the number of terms.
func (l *Lexicon) Len() int { return len(l.terms) }

// token is a word of the text as written and as compared.
type token struct {
	raw, low string
}

// tokenize splits text into words (letters, digits, apostrophes inside words) and
// emoticons; punctuation is dropped, apart from the exclamation marks it counts.
func tokenize(text string) (toks []token, exclamations int) {
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			w := strings.Trim(b.String(), "'")
			if w != "" {
				toks = append(toks, token{raw: w, low: strings.ToLower(w)})
			}
			b.Reset()
		}
	}
	for _, f := range strings.Fields(text) {
		if emoticon(f) {
			flush()
			toks = append(toks, token{raw: f, low: f})
			continue
		}
		for _, r := range f {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' || r == '’':
				if r == '’' {
					r = '\''
				}
				b.WriteRune(r)
			case r == '!':
				exclamations++
				flush()
			case r > unicode.MaxASCII && unicode.Is(unicode.So, r):
				flush()
				toks = append(toks, token{raw: string(r), low: string(r)})
			default:
				flush()
			}
		}
		flush()
	}
	return toks, exclamations
}

// emoticons are matched whole.
var emoticons = set(":)", ":-)", ":(", ":-(", ":d", ":-d", ";)", ";-)", ":/", ":-/", ":|", ":'(", ":p", ":-p",
	"<3", "</3", ":o", "xd", ":@", ">:(", "):", "(:", "=)", "=(")

func emoticon(f string) bool { return emoticons[strings.ToLower(f)] }

// Score is the text's sentiment in [-1, +1].
func (l *Lexicon) Score(text string) float64 {
	toks, bangs := tokenize(text)
	if len(toks) == 0 {
		return 0
	}
	// Stress a capitalised word only among lower-case ones ("this is AWFUL").
	caps, letters := 0, 0
	for _, t := range toks {
		if hasLetters(t.raw) {
			letters++
			if isShouted(t.raw) {
				caps++
			}
		}
	}
	mixed := caps > 0 && caps < letters
	butAt := -1
	for i, t := range toks {
		if t.low == "but" || t.low == "however" || t.low == "although" || t.low == "though" {
			butAt = i
		}
	}
	var sum float64
	// A negation flips the first term after it only ("didn't fix the problem" is
	// not a fixed non-problem).
	used := map[int]bool{}
	for i := 0; i < len(toks); {
		n, v := l.match(toks, i)
		if n == 0 {
			i++
			continue
		}
		if v != 0 {
			v = l.shift(toks, i, n, v, mixed, used)
			if butAt >= 0 {
				if i < butAt {
					v *= butBefore
				} else if i > butAt {
					v *= butAfter
				}
			}
		}
		sum += v
		i += n
	}
	if sum != 0 && bangs > 0 {
		sum += math.Copysign(float64(min(bangs, maxExclamations))*exclamationStep, sum)
	}
	return clamp(sum / math.Sqrt(sum*sum+normAlpha))
}

// match finds the longest term starting at toks[i]: its length in words and valence.
func (l *Lexicon) match(toks []token, i int) (int, float64) {
	for n := min(l.longest, len(toks)-i); n >= 1; n-- {
		parts := make([]string, n)
		for j := range n {
			parts[j] = toks[i+j].low
		}
		if v, ok := l.terms[strings.Join(parts, " ")]; ok {
			return n, v
		}
	}
	return 0, 0
}

// shift applies the words around a term to its valence v.
func (l *Lexicon) shift(toks []token, i, n int, v float64, mixed bool, used map[int]bool) float64 {
	if mixed && n == 1 && isShouted(toks[i].raw) {
		v += math.Copysign(capsStep, v)
	}
	negated := false
	for k := 1; k <= 3 && i-k >= 0; k++ {
		w := toks[i-k].low
		scale := 1.0
		if k == 2 {
			scale = 0.95
		} else if k == 3 {
			scale = 0.9
		}
		switch {
		case boosters[w]:
			step := boosterStep
			if mixed && isShouted(toks[i-k].raw) {
				step += capsStep
			}
			v += math.Copysign(step*scale, v)
		case dampeners[w]:
			v -= math.Copysign(boosterStep*scale, v)
		}
		if (negations[w] || strings.HasSuffix(w, "n't")) && !used[i-k] {
			negated = true
			used[i-k] = true
		}
		// "not only", "no doubt" and similar do not negate what follows.
		if k == 1 && (w == "only" || w == "doubt") {
			negated = false
			break
		}
	}
	if negated {
		v *= negationScale
	}
	return v
}

func hasLetters(s string) bool { return strings.IndexFunc(s, unicode.IsLetter) >= 0 }

// isShouted reports whether a word of at least two letters is in capitals.
func isShouted(s string) bool {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			if !unicode.IsUpper(r) {
				return false
			}
			n++
		}
	}
	return n >= 2
}
