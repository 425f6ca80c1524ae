// Package sentiment scores how customers feel in what they write: each message gets a
// score in [-1, +1] from a Scorer, a conversation the weighted mean of its messages'
// scores (later messages weigh more: they show how the customer feels now), and the
// score falls in a band (negative < -0.35 ≤ neutral ≤ +0.35 < positive). When a
// conversation ends it gets one tag: not-applicable when no message was scored, else
// overly-negative, negative, neutral, positive or overly-positive.
//
// The package is pure: no I/O, no clock, no randomness, so workflows and activities
// may call it and the same text always scores the same.
package sentiment

// Scorer scores one message in [-1, +1]: -1 the most negative, +1 the most positive,
// 0 neutral or no opinion.
type Scorer interface {
	Score(text string) float64
}

// Band is where a score falls.
type Band string

// The bands.
const (
	Negative Band = "negative"
	Neutral  Band = "neutral"
	Positive Band = "positive"
)

// Tag is a conversation's sentiment once it ended.
type Tag string

// The post-conversation tags.
const (
	TagNotApplicable  Tag = "not-applicable"
	TagOverlyNegative Tag = "overly-negative"
	TagNegative       Tag = "negative"
	TagNeutral        Tag = "neutral"
	TagPositive       Tag = "positive"
	TagOverlyPositive Tag = "overly-positive"
)

// Valid reports whether t is a known tag.
func (t Tag) Valid() bool {
	switch t {
	case TagNotApplicable, TagOverlyNegative, TagNegative, TagNeutral, TagPositive, TagOverlyPositive:
		return true
	}
	return false
}

// Thresholds of the bands and tags.
const (
	// BandLimit separates neutral from the other bands: a score below -BandLimit is
	// negative, above +BandLimit positive, neutral between them, limits included.
	BandLimit = 0.35
	// OverlyLimit marks the far ends within the negative and positive bands: a
	// conversation scoring below -OverlyLimit ends overly-negative, above
	// +OverlyLimit overly-positive.
	OverlyLimit = 0.7
)

// BandOf is the band of a score.
func BandOf(score float64) Band {
	switch {
	case score < -BandLimit:
		return Negative
	case score > BandLimit:
		return Positive
	}
	return Neutral
}

// Conversation is the conversation's score from its messages' scores in the order
// they were sent: the mean weighted by position (the i-th message, from 1, weighs
// i), so each message counts more than any before it. No messages score 0.
func Conversation(scores []float64) float64 {
	var sum, weights float64
	for i, s := range scores {
		w := float64(i + 1)
		sum += w * clamp(s)
		weights += w
	}
	if weights == 0 {
		return 0
	}
	return clamp(sum / weights)
}

// Add folds one more message's score into a conversation score over n messages
// before it, giving what Conversation gives over all n+1.
func Add(score float64, n int, next float64) float64 {
	before := float64(n) * float64(n+1) / 2 // the weights 1..n
	w := float64(n + 1)
	return clamp((score*before + w*clamp(next)) / (before + w))
}

// TagOf is the tag of a conversation that ended with score over n scored messages.
func TagOf(score float64, n int) Tag {
	switch {
	case n == 0:
		return TagNotApplicable
	case score < -OverlyLimit:
		return TagOverlyNegative
	case score < -BandLimit:
		return TagNegative
	case score > OverlyLimit:
		return TagOverlyPositive
	case score > BandLimit:
		return TagPositive
	}
	return TagNeutral
}

func clamp(x float64) float64 {
	switch {
	case x < -1:
		return -1
	case x > 1:
		return 1
	case x != x: // NaN
		return 0
	}
	return x
}
