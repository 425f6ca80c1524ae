package sdp_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"switchboard/media/g711"
	"switchboard/media/sdp"
)

var local = sdp.Local{Addr: netip.MustParseAddr("192.0.2.10"), Port: 40000, SessionID: 77, Version: 1}

func crlf(lines ...string) []byte { return []byte(strings.Join(lines, "\r\n") + "\r\n") }

// A typical softphone offer: PCMA preferred, PCMU, a codec the endpoint lacks, and
// telephone-event on 101.
var phoneOffer = crlf(
	"v=0",
	"o=alice 2890844526 2890844526 IN IP4 198.51.100.7",
	"s=-",
	"c=IN IP4 198.51.100.7",
	"t=0 0",
	"m=audio 49170 RTP/AVP 8 0 9 101",
	"a=rtpmap:8 PCMA/8000",
	"a=rtpmap:0 PCMU/8000",
	"a=rtpmap:9 G722/8000",
	"a=rtpmap:101 telephone-event/8000",
	"a=fmtp:101 0-16",
	"a=ptime:20",
	"a=sendrecv",
)

func TestAnswerChoosesOffererPreference(t *testing.T) {
	offer, err := sdp.Parse(phoneOffer)
	if err != nil {
		t.Fatal(err)
	}
	answer, stream, err := sdp.Answer(offer, local)
	if err != nil {
		t.Fatal(err)
	}
	if stream.Law != g711.ALaw || stream.PayloadType != 8 || stream.EventPayloadType != 101 ||
		stream.Remote != netip.MustParseAddrPort("198.51.100.7:49170") || stream.Direction != sdp.SendRecv {
		t.Fatalf("stream %+v", stream)
	}
	want := string(crlf(
		"v=0",
		"o=switchboard 77 1 IN IP4 192.0.2.10",
		"s=switchboard",
		"c=IN IP4 192.0.2.10",
		"t=0 0",
		"m=audio 40000 RTP/AVP 8 101",
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-15",
		"a=ptime:20",
		"a=sendrecv",
	))
	if string(answer) != want {
		t.Fatalf("answer:\n%s\nwant:\n%s", answer, want)
	}
	// The answer is itself a valid description that reads back as the same stream.
	back, err := sdp.Parse(answer)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := sdp.ReadAnswer(back); err != nil || got.Law != g711.ALaw || got.EventPayloadType != 101 {
		t.Fatalf("answer read back: %+v, %v", got, err)
	}
}

func TestAnswerStreams(t *testing.T) {
	head := []string{"v=0", "o=- 1 1 IN IP4 203.0.113.5", "s=call", "t=0 0"}
	cases := []struct {
		name   string
		lines  []string
		law    g711.Law
		event  uint8
		remote string
		dir    sdp.Direction
		want   []string // lines the answer must have
	}{
		{"static types without rtpmap, LF line ends", []string{"c=IN IP4 203.0.113.5", "m=audio 5004 RTP/AVP 0"},
			g711.ULaw, 0, "203.0.113.5:5004", sdp.SendRecv, []string{"m=audio 40000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000"}},
		{"video refused, audio accepted; media-level address", []string{"m=video 6000 RTP/AVP 96", "a=rtpmap:96 H264/90000",
			"c=IN IP4 203.0.113.9", "m=audio 5006 RTP/AVP 0 8", "c=IN IP4 203.0.113.6"},
			g711.ULaw, 0, "203.0.113.6:5006", sdp.SendRecv, []string{"m=video 0 RTP/AVP 96", "m=audio 40000 RTP/AVP 0"}},
		{"IPv6", []string{"c=IN IP6 2001:db8::5", "m=audio 5008 RTP/AVP 8"},
			g711.ALaw, 0, "[2001:db8::5]:5008", sdp.SendRecv, nil},
		{"hold: sendonly is answered recvonly", []string{"c=IN IP4 203.0.113.5", "m=audio 5004 RTP/AVP 0", "a=sendonly"},
			g711.ULaw, 0, "203.0.113.5:5004", sdp.SendOnly, []string{"a=recvonly"}},
		{"old hold: 0.0.0.0, session-level inactive", []string{"c=IN IP4 0.0.0.0", "a=inactive", "m=audio 5004 RTP/AVP 0"},
			g711.ULaw, 0, "", sdp.Inactive, []string{"a=inactive"}},
		{"dynamic PCMU type and telephone-event", []string{"c=IN IP4 203.0.113.5", "m=audio 5004 RTP/AVP 97 96",
			"a=rtpmap:97 pcmu/8000/1", "a=rtpmap:96 telephone-event/8000"},
			g711.ULaw, 96, "203.0.113.5:5004", sdp.SendRecv, []string{"m=audio 40000 RTP/AVP 97 96"}},
		{"second audio stream refused", []string{"c=IN IP4 203.0.113.5", "m=audio 5004 RTP/AVP 0", "m=audio 5010 RTP/AVP 8"},
			g711.ULaw, 0, "203.0.113.5:5004", sdp.SendRecv, []string{"m=audio 40000 RTP/AVP 0", "m=audio 0 RTP/AVP 8"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.Join(append(append([]string{}, head...), tc.lines...), "\n")
			offer, err := sdp.Parse([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			answer, s, err := sdp.Answer(offer, local)
			if err != nil {
				t.Fatal(err)
			}
			remote := ""
			if s.Remote.IsValid() {
				remote = s.Remote.String()
			}
			if s.Law != tc.law || s.EventPayloadType != tc.event || remote != tc.remote || s.Direction != tc.dir {
				t.Errorf("stream %+v", s)
			}
			for _, l := range tc.want {
				if !strings.Contains(string(answer), l+"\r\n") {
					t.Errorf("answer lacks %q:\n%s", l, answer)
				}
			}
			if n := strings.Count(string(answer), "m="); n != len(offer.Media) {
				t.Errorf("answer has %d streams, the offer %d", n, len(offer.Media))
			}
		})
	}
}

func TestRefusedOffers(t *testing.T) {
	head := "v=0\r\no=- 1 1 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n"
	cases := map[string]struct {
		body string
		code int
	}{
		"empty":                 {"", sdp.WarnMisc},
		"not SDP":               {"hello world", sdp.WarnMisc},
		"HTML":                  {"<html><body>hi</body></html>", sdp.WarnMisc},
		"no version first":      {"o=- 1 1 IN IP4 203.0.113.5\r\nv=0\r\n", sdp.WarnMisc},
		"version 1":             {"v=1\r\n", sdp.WarnMisc},
		"no origin":             {"v=0\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n", sdp.WarnMisc},
		"no time":               {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\n", sdp.WarnMisc},
		"bad origin":            {"v=0\r\no=- 1 IN IP4\r\ns=-\r\nt=0 0\r\n", sdp.WarnMisc},
		"only video":            {head + "m=video 5000 RTP/AVP 96\r\n", sdp.WarnMediaNotAvailable},
		"no media":              {head, sdp.WarnMediaNotAvailable},
		"G.729 only":            {head + "m=audio 5000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n", sdp.WarnIncompatibleFormat},
		"wideband PCMU":         {head + "m=audio 5000 RTP/AVP 96\r\na=rtpmap:96 PCMU/16000\r\n", sdp.WarnIncompatibleFormat},
		"SRTP only":             {head + "m=audio 5000 RTP/SAVP 0\r\n", sdp.WarnIncompatibleTransport},
		"no connection":         {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n", sdp.WarnIncompatibleAddress},
		"host name":             {strings.Replace(head, "c=IN IP4 203.0.113.5", "c=IN IP4 media.example.com", 1) + "m=audio 5000 RTP/AVP 0\r\n", sdp.WarnIncompatibleAddress},
		"multicast":             {strings.Replace(head, "c=IN IP4 203.0.113.5", "c=IN IP4 224.2.1.1/127", 1) + "m=audio 5000 RTP/AVP 0\r\n", sdp.WarnIncompatibleAddress},
		"IP4 with IPv6 address": {strings.Replace(head, "c=IN IP4 203.0.113.5", "c=IN IP4 ::1", 1) + "m=audio 5000 RTP/AVP 0\r\n", sdp.WarnIncompatibleAddress},
		"bad port":              {head + "m=audio 99999 RTP/AVP 0\r\n", sdp.WarnMisc},
		"bad payload type":      {head + "m=audio 5000 RTP/AVP 200\r\n", sdp.WarnIncompatibleFormat},
		"no formats":            {head + "m=audio 5000 RTP/AVP\r\n", sdp.WarnMisc},
		"two directions":        {head + "m=audio 5000 RTP/AVP 0\r\na=sendonly\r\na=recvonly\r\n", sdp.WarnMisc},
		"bad ptime":             {head + "m=audio 5000 RTP/AVP 0\r\na=ptime:0\r\n", sdp.WarnMisc},
		"NUL in a line":         {head + "m=audio 5000 RTP/AVP 0\x00\r\n", sdp.WarnMisc},
		"upper-case type":       {head + "M=audio 5000 RTP/AVP 0\r\n", sdp.WarnMisc},
		"unknown line type":     {head + "x=1\r\nm=audio 5000 RTP/AVP 0\r\n", sdp.WarnMisc},
		"rtpmap without value":  {head + "m=audio 5000 RTP/AVP 0\r\na=rtpmap:0\r\n", sdp.WarnMisc},
		"too many streams":      {head + strings.Repeat("m=audio 5000 RTP/AVP 0\r\n", 17), sdp.WarnMisc},
		"huge":                  {head + strings.Repeat("a=x\r\n", 5000), sdp.WarnMisc},
	}
	for name, tc := range cases {
		offer, err := sdp.Parse([]byte(tc.body))
		if err == nil {
			_, _, err = sdp.Answer(offer, local)
		}
		var e *sdp.Error
		if !errors.As(err, &e) || e.Code != tc.code || e.Text == "" {
			t.Errorf("%s: %v; want warning %d", name, err, tc.code)
		}
	}
}

func TestOfferAndAnswer(t *testing.T) {
	offer := sdp.Offer(local)
	parsed, err := sdp.Parse(offer)
	if err != nil {
		t.Fatalf("own offer does not parse: %v\n%s", err, offer)
	}
	if m := parsed.Media[0]; m.Port != 40000 || strings.Join(m.Formats, " ") != "0 8 101" || m.Direction != sdp.SendRecv {
		t.Fatalf("offer stream %+v", m)
	}
	// The phone answers with PCMA only and telephone-event.
	answer, err := sdp.Parse(crlf("v=0", "o=bob 1 2 IN IP4 198.51.100.9", "s=-", "c=IN IP4 198.51.100.9", "t=0 0",
		"m=audio 30000 RTP/AVP 8 101", "a=rtpmap:101 telephone-event/8000"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sdp.ReadAnswer(answer)
	if err != nil || s.Law != g711.ALaw || s.PayloadType != 8 || s.EventPayloadType != 101 || s.Remote.String() != "198.51.100.9:30000" {
		t.Fatalf("ReadAnswer = %+v, %v", s, err)
	}
	for name, body := range map[string][]byte{
		"refused":       crlf("v=0", "o=b 1 2 IN IP4 198.51.100.9", "s=-", "c=IN IP4 198.51.100.9", "t=0 0", "m=audio 0 RTP/AVP 0"),
		"other codec":   crlf("v=0", "o=b 1 2 IN IP4 198.51.100.9", "s=-", "c=IN IP4 198.51.100.9", "t=0 0", "m=audio 3000 RTP/AVP 18"),
		"two streams":   crlf("v=0", "o=b 1 2 IN IP4 198.51.100.9", "s=-", "c=IN IP4 198.51.100.9", "t=0 0", "m=audio 3000 RTP/AVP 0", "m=video 0 RTP/AVP 96"),
		"wrong payload": crlf("v=0", "o=b 1 2 IN IP4 198.51.100.9", "s=-", "c=IN IP4 198.51.100.9", "t=0 0", "m=audio 3000 RTP/AVP 96", "a=rtpmap:96 PCMU/8000"),
	} {
		a, err := sdp.Parse(body)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sdp.ReadAnswer(a); err == nil {
			t.Errorf("%s answer accepted", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(phoneOffer)
	f.Add([]byte("v=0\no=- 1 1 IN IP6 ::1\ns=-\nc=IN IP6 ::1\nt=0 0\nm=audio 1 RTP/AVP 0 101\na=rtpmap:101 telephone-event/8000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := sdp.Parse(b)
		if err != nil {
			return
		}
		if answer, _, err := sdp.Answer(s, local); err == nil {
			if _, err := sdp.Parse(answer); err != nil {
				t.Fatalf("answer to a parsed offer does not parse: %v\n%s", err, answer)
			}
		}
	})
}
