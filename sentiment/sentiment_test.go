package sentiment_test

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"switchboard/sentiment"
)

// accuracyFloor is the share of the labelled messages the default lexicon must place
// in their band; below it the evaluation fails.
const accuracyFloor = 0.80

type labelled struct {
	band sentiment.Band
	text string
}

func readLabelled(t *testing.T) []labelled {
	t.Helper()
	f, err := os.Open("testdata/labelled.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []labelled
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		label, text, ok := strings.Cut(line, "\t")
		b := sentiment.Band(label)
		if !ok || (b != sentiment.Negative && b != sentiment.Neutral && b != sentiment.Positive) {
			t.Fatalf("line %d: want negative|neutral|positive<TAB>text", n)
		}
		out = append(out, labelled{b, text})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEvaluation scores the labelled customer messages of testdata and reports the
// accuracy of their bands, per class and as a confusion matrix; it fails under
// accuracyFloor.
func TestEvaluation(t *testing.T) {
	set := readLabelled(t)
	lex := sentiment.Default()
	bands := []sentiment.Band{sentiment.Negative, sentiment.Neutral, sentiment.Positive}
	confusion := map[sentiment.Band]map[sentiment.Band]int{}
	for _, b := range bands {
		confusion[b] = map[sentiment.Band]int{}
	}
	right := 0
	for _, l := range set {
		s := lex.Score(l.text)
		got := sentiment.BandOf(s)
		confusion[l.band][got]++
		if got == l.band {
			right++
		} else if testing.Verbose() {
			t.Logf("%-8s scored %+.2f (%s): %s", l.band, s, got, l.text)
		}
	}
	acc := float64(right) / float64(len(set))
	var b strings.Builder
	fmt.Fprintf(&b, "lexicon of %d terms on %d labelled messages: accuracy %.1f%% (floor %.0f%%)\n", lex.Len(), len(set), 100*acc, 100*accuracyFloor)
	fmt.Fprintf(&b, "%-10s %9s %9s %9s %8s\n", "label\\got", "negative", "neutral", "positive", "recall")
	for _, want := range bands {
		n := 0
		for _, got := range bands {
			n += confusion[want][got]
		}
		fmt.Fprintf(&b, "%-10s %9d %9d %9d %7.1f%%\n", want, confusion[want][sentiment.Negative], confusion[want][sentiment.Neutral],
			confusion[want][sentiment.Positive], 100*float64(confusion[want][want])/float64(n))
	}
	t.Log("\n" + b.String())
	if acc < accuracyFloor {
		t.Errorf("accuracy %.3f is under the floor %.2f", acc, accuracyFloor)
	}
}

func TestScoreRules(t *testing.T) {
	lex := sentiment.Default()
	score := lex.Score
	for _, tc := range []struct {
		name     string
		a, b     string
		aGreater bool
	}{
		{"a booster strengthens", "the service was very good", "the service was good", true},
		{"a dampener weakens", "the service was slightly good", "the service was good", false},
		{"negation flips", "the agent was not helpful", "the agent was helpful", false},
		{"capitals stress", "this is AWFUL", "this is awful", false},
		{"exclamation stresses", "thank you so much!!!", "thank you so much", true},
		{"after but counts more", "the agent was nice but the product is awful", "the agent was nice and the product is awful", false},
		{"a phrase beats its words", "no problem at all", "no", true},
		{"an emoji counts", "ok 👍", "ok", true},
	} {
		a, b := score(tc.a), score(tc.b)
		if (a > b) != tc.aGreater {
			t.Errorf("%s: %q %+.3f vs %q %+.3f", tc.name, tc.a, a, tc.b, b)
		}
	}
	for _, text := range []string{"", "   ", "12345", "!!!", "the parcel", strings.Repeat("terrible ", 500), strings.Repeat("wonderful ", 500)} {
		if s := score(text); s < -1 || s > 1 || math.IsNaN(s) {
			t.Errorf("%q scored %v, out of [-1, 1]", text[:min(len(text), 20)], s)
		}
	}
	if s := score("the parcel"); s != 0 {
		t.Errorf("text without opinion scored %v", s)
	}
	// A negation flips one term only.
	if s := score("it didn't fix the problem"); s >= 0 {
		t.Errorf("\"it didn't fix the problem\" scored %+.2f", s)
	}
}

func TestConversationAndTags(t *testing.T) {
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	// weights 1, 2, 3: (1*-1 + 2*0 + 3*1)/6 = 1/3
	if got := sentiment.Conversation([]float64{-1, 0, 1}); !near(got, 1.0/3) {
		t.Errorf("weighted mean %v", got)
	}
	// Later messages weigh more: the same scores the other way round.
	if got := sentiment.Conversation([]float64{1, 0, -1}); !near(got, -1.0/3) {
		t.Errorf("weighted mean reversed %v", got)
	}
	if sentiment.Conversation(nil) != 0 {
		t.Error("no messages should score 0")
	}
	scores := []float64{0.2, -0.7, 0.9, 0.1}
	var running float64
	for i, s := range scores {
		running = sentiment.Add(running, i, s)
		if want := sentiment.Conversation(scores[:i+1]); !near(running, want) {
			t.Errorf("Add after %d messages: %v, want %v", i+1, running, want)
		}
	}
	for _, tc := range []struct {
		score float64
		band  sentiment.Band
	}{{-0.36, sentiment.Negative}, {-0.35, sentiment.Neutral}, {0, sentiment.Neutral}, {0.35, sentiment.Neutral}, {0.351, sentiment.Positive}} {
		if got := sentiment.BandOf(tc.score); got != tc.band {
			t.Errorf("band of %v: %s, want %s", tc.score, got, tc.band)
		}
	}
	for _, tc := range []struct {
		score float64
		n     int
		tag   sentiment.Tag
	}{
		{0, 0, sentiment.TagNotApplicable}, {-0.9, 3, sentiment.TagOverlyNegative}, {-0.5, 3, sentiment.TagNegative},
		{0.1, 3, sentiment.TagNeutral}, {0.5, 2, sentiment.TagPositive}, {0.71, 1, sentiment.TagOverlyPositive},
		{-0.7, 1, sentiment.TagNegative}, {0.7, 1, sentiment.TagPositive},
	} {
		if got := sentiment.TagOf(tc.score, tc.n); got != tc.tag || !got.Valid() {
			t.Errorf("tag of %v over %d: %s, want %s", tc.score, tc.n, got, tc.tag)
		}
	}
}

func TestParseLexicon(t *testing.T) {
	for _, bad := range []string{"good", "good\tgreat", "good\t5", "a b c d e\t1", "good\t1\ngood\t2"} {
		if _, err := sentiment.ParseLexicon(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	l, err := sentiment.ParseLexicon("# comment\nGood\t2\nnot bad\t1.5\n")
	if err != nil || l.Len() != 2 {
		t.Fatalf("%v, %v", l, err)
	}
	if l.Score("good") <= 0 || l.Score("NOT BAD at all") <= 0 {
		t.Error("a parsed lexicon does not score")
	}
}
