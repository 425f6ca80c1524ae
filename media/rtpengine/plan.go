package rtpengine

import (
	"fmt"
	"time"

	"switchboard/voicewait"
)

// PlanItems turns a waiting caller's schedule (voicewait.Plan) into a playlist that
// plays it from offset from (the time since the caller entered the queue; 0 for the
// whole plan): the greeting, each announcement and the max-wait message once, each in
// its step's time; hold music looped, or silence, for its step; nothing past the drop,
// so the Playback's Done says when the caller is to be hung up. A step under way at
// from is played from where it is. audio gives the sound of a step that has one: the
// strategy's file, or the speech of the step's Text; music is looped.
func PlanItems(steps []voicewait.Step, from time.Duration, audio func(voicewait.Step) (*Audio, error)) ([]Item, error) {
	var items []Item
	for _, st := range steps {
		if st.Kind == voicewait.KindDrop {
			break
		}
		if st.End <= from || st.End <= st.Start {
			continue
		}
		into := max(from-st.Start, 0)
		it := Item{Duration: st.End - st.Start - into}
		switch st.Kind {
		case voicewait.KindSilence:
		case voicewait.KindMusic:
			a, err := audio(st)
			if err != nil {
				return nil, fmt.Errorf("rtpengine: audio of %s at %s: %w", st.Kind, st.Start, err)
			}
			it.Audio, it.Loop = a, true
		case voicewait.KindGreeting, voicewait.KindAnnouncement, voicewait.KindMaxWaitMessage:
			a, err := audio(st)
			if err != nil {
				return nil, fmt.Errorf("rtpengine: audio of %s at %s: %w", st.Kind, st.Start, err)
			}
			it.Audio, it.Start = a, into
		default:
			return nil, fmt.Errorf("rtpengine: unknown step %q", st.Kind)
		}
		items = append(items, it)
	}
	return items, nil
}
