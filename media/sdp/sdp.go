// Package sdp is the offer/answer model (RFC 3264) of the media worker over SDP
// (RFC 8866): it parses what a peer offers or answers, chooses G.711 (PCMU or PCMA)
// and RFC 4733 telephone-event, and writes the answer or its own offer. It keeps
// only what a G.711 endpoint needs and refuses, with the SIP Warning code RFC 3261
// §20.43 gives for it, what it cannot take part in.
package sdp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"switchboard/media/g711"
)

// Warning codes of RFC 3261 §20.43 that a refused session description carries.
const (
	WarnIncompatibleProtocol   = 300
	WarnIncompatibleAddress    = 301
	WarnIncompatibleTransport  = 302
	WarnMediaNotAvailable      = 304
	WarnIncompatibleFormat     = 305
	WarnParameterNotUnderstood = 307
	WarnMisc                   = 399
)

// Error is a session description the endpoint cannot use: malformed, or offering
// nothing it can take part in. Code is the Warning code to answer 488 with.
type Error struct {
	Code int
	Text string
}

func (e *Error) Error() string { return fmt.Sprintf("sdp: %s (warning %d)", e.Text, e.Code) }

func fail(code int, format string, args ...any) *Error {
	return &Error{Code: code, Text: fmt.Sprintf(format, args...)}
}

// Direction is a stream's direction attribute.
type Direction string

// The directions of RFC 3264 §5.1.
const (
	SendRecv Direction = "sendrecv"
	SendOnly Direction = "sendonly"
	RecvOnly Direction = "recvonly"
	Inactive Direction = "inactive"
)

// reverse is the direction an answer gives a stream offered with d (RFC 3264 §6.1).
func (d Direction) reverse() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	}
	return d
}

// Sends reports whether the side that wrote d sends media.
func (d Direction) Sends() bool { return d == SendRecv || d == SendOnly }

// Receives reports whether the side that wrote d receives media.
func (d Direction) Receives() bool { return d == SendRecv || d == RecvOnly }

// Media is one m= line with the attributes the endpoint reads.
type Media struct {
	Type    string
	Port    int
	Proto   string
	Formats []string
	// Conn is the media's connection address, or the session's when it has none.
	Conn netip.Addr
	// RTPMap maps payload types to "encoding/clock[/channels]" as written.
	RTPMap    map[string]string
	FMTP      map[string]string
	Direction Direction
	Ptime     int
}

// Session is a parsed session description.
type Session struct {
	Origin    Origin
	Name      string
	Conn      netip.Addr
	Direction Direction
	Media     []Media
}

// Origin is the o= line.
type Origin struct {
	Username  string
	SessionID string
	Version   uint64
	Addr      string
}

// Bounds of what is parsed: a session description is small; a huge one is an attack.
const (
	maxBody  = 16 << 10
	maxLines = 512
	maxMedia = 16
)

// Parse reads a session description, checking the grammar of RFC 8866 §9 as far
// as the endpoint uses it: the v=, o=, s= and t= lines; every line type=value with
// a one-letter type; m= lines with a port and at least one format; c= addresses;
// and at most one direction per level. Lines may end in CRLF or LF.
func Parse(b []byte) (*Session, error) {
	if len(b) == 0 {
		return nil, fail(WarnMisc, "empty session description")
	}
	if len(b) > maxBody {
		return nil, fail(WarnMisc, "session description of %d bytes is too large", len(b))
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	text = strings.TrimRight(text, "\n")
	lines := strings.Split(text, "\n")
	if len(lines) > maxLines {
		return nil, fail(WarnMisc, "session description of %d lines is too long", len(lines))
	}
	s := &Session{}
	var (
		cur                        *Media
		seenV, seenO, seenS, seenT bool
		sessionConn                bool
	)
	for i, line := range lines {
		if len(line) < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z' {
			return nil, fail(WarnMisc, "line %d is not type=value: %q", i+1, clip(line))
		}
		if strings.ContainsAny(line, "\r\x00") {
			return nil, fail(WarnMisc, "line %d has a stray CR or NUL", i+1)
		}
		typ, val := line[0], line[2:]
		if i == 0 && typ != 'v' {
			return nil, fail(WarnMisc, "the description does not start with v=")
		}
		switch typ {
		case 'v':
			if i != 0 || val != "0" {
				return nil, fail(WarnMisc, "version %q: only v=0 at the start is known", clip(val))
			}
			seenV = true
		case 'o':
			if cur != nil || seenO {
				return nil, fail(WarnMisc, "o= is out of place")
			}
			f := strings.Fields(val)
			if len(f) != 6 || f[3] != "IN" {
				return nil, fail(WarnMisc, "o= needs username, session ID, version, IN, address type and address")
			}
			v, err := strconv.ParseUint(f[2], 10, 64)
			if err != nil {
				return nil, fail(WarnMisc, "o= version %q is not a number", clip(f[2]))
			}
			s.Origin = Origin{Username: f[0], SessionID: f[1], Version: v, Addr: f[5]}
			seenO = true
		case 's':
			if cur != nil || seenS {
				return nil, fail(WarnMisc, "s= is out of place")
			}
			s.Name, seenS = val, true
		case 't':
			if cur != nil {
				return nil, fail(WarnMisc, "t= after m=")
			}
			f := strings.Fields(val)
			if len(f) != 2 {
				return nil, fail(WarnMisc, "t= needs a start and a stop time")
			}
			for _, x := range f {
				if _, err := strconv.ParseUint(x, 10, 64); err != nil {
					return nil, fail(WarnMisc, "t= time %q is not a number", clip(x))
				}
			}
			seenT = true
		case 'c':
			addr, err := parseConn(val)
			if err != nil {
				return nil, err
			}
			if cur != nil {
				cur.Conn = addr
			} else {
				if sessionConn {
					return nil, fail(WarnMisc, "two session-level c= lines")
				}
				s.Conn, sessionConn = addr, true
			}
		case 'm':
			if !seenV || !seenO || !seenS || !seenT {
				return nil, fail(WarnMisc, "m= before the v=, o=, s= and t= lines")
			}
			if len(s.Media) == maxMedia {
				return nil, fail(WarnMisc, "more than %d media streams", maxMedia)
			}
			m, err := parseMedia(val)
			if err != nil {
				return nil, err
			}
			s.Media = append(s.Media, m)
			cur = &s.Media[len(s.Media)-1]
		case 'a':
			if err := parseAttribute(s, cur, val); err != nil {
				return nil, err
			}
		case 'i', 'u', 'e', 'p', 'b', 'r', 'z', 'k':
			// Informational, bandwidth, repeat and zone lines: not used.
		default:
			return nil, fail(WarnMisc, "unknown line type %c=", typ)
		}
	}
	if !seenV || !seenO || !seenS || !seenT {
		return nil, fail(WarnMisc, "the description lacks one of the v=, o=, s= and t= lines")
	}
	for i := range s.Media {
		m := &s.Media[i]
		if !m.Conn.IsValid() {
			if !sessionConn && m.Port != 0 {
				return nil, fail(WarnIncompatibleAddress, "media stream %d has no connection address", i+1)
			}
			m.Conn = s.Conn
		}
		if m.Direction == "" {
			m.Direction = s.Direction
		}
		if m.Direction == "" {
			m.Direction = SendRecv
		}
	}
	return s, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func parseConn(val string) (netip.Addr, error) {
	f := strings.Fields(val)
	if len(f) != 3 || f[0] != "IN" {
		return netip.Addr{}, fail(WarnIncompatibleProtocol, "c= needs IN, an address type and an address")
	}
	host := f[2]
	if i := strings.IndexByte(host, '/'); i >= 0 {
		// A TTL or address count: multicast, which a call does not use.
		return netip.Addr{}, fail(WarnIncompatibleAddress, "multicast connection %q is not available", clip(host))
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		// A domain name: the endpoint resolves none, like SIP hosts.
		return netip.Addr{}, fail(WarnIncompatibleAddress, "connection address %q is not an IP address", clip(host))
	}
	switch {
	case f[1] == "IP4" && !addr.Is4():
		return netip.Addr{}, fail(WarnIncompatibleAddress, "c= IP4 with address %s", addr)
	case f[1] == "IP6" && !addr.Is6():
		return netip.Addr{}, fail(WarnIncompatibleAddress, "c= IP6 with address %s", addr)
	case f[1] != "IP4" && f[1] != "IP6":
		return netip.Addr{}, fail(WarnIncompatibleAddress, "address type %q", clip(f[1]))
	case addr.IsMulticast():
		return netip.Addr{}, fail(WarnIncompatibleAddress, "multicast connection %s is not available", addr)
	}
	return addr, nil
}

func parseMedia(val string) (Media, error) {
	f := strings.Fields(val)
	if len(f) < 4 {
		return Media{}, fail(WarnMisc, "m= needs media, port, protocol and at least one format")
	}
	portText := f[1]
	if i := strings.IndexByte(portText, '/'); i >= 0 {
		portText = portText[:i] // a port count: the first port is the RTP one
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return Media{}, fail(WarnMisc, "m= port %q", clip(f[1]))
	}
	m := Media{Type: f[0], Port: port, Proto: f[2], Formats: f[3:], RTPMap: map[string]string{}, FMTP: map[string]string{}}
	for _, fmtText := range m.Formats {
		if strings.HasPrefix(m.Proto, "RTP/") {
			if n, err := strconv.Atoi(fmtText); err != nil || n < 0 || n > 127 {
				return Media{}, fail(WarnIncompatibleFormat, "RTP payload type %q", clip(fmtText))
			}
		}
	}
	return m, nil
}

func parseAttribute(s *Session, m *Media, val string) error {
	name, value, _ := strings.Cut(val, ":")
	setDir := func(d Direction) error {
		if m != nil {
			if m.Direction != "" {
				return fail(WarnMisc, "two direction attributes on one stream")
			}
			m.Direction = d
			return nil
		}
		if s.Direction != "" {
			return fail(WarnMisc, "two session-level direction attributes")
		}
		s.Direction = d
		return nil
	}
	switch name {
	case "sendrecv", "sendonly", "recvonly", "inactive":
		return setDir(Direction(name))
	case "rtpmap", "fmtp":
		if m == nil {
			return nil // meaningless at session level; ignored as unknown
		}
		pt, rest, ok := strings.Cut(value, " ")
		if !ok || strings.TrimSpace(rest) == "" {
			return fail(WarnMisc, "a=%s needs a payload type and a value", name)
		}
		if n, err := strconv.Atoi(pt); err != nil || n < 0 || n > 127 {
			return fail(WarnMisc, "a=%s payload type %q", name, clip(pt))
		}
		if name == "rtpmap" {
			m.RTPMap[pt] = strings.TrimSpace(rest)
		} else {
			m.FMTP[pt] = strings.TrimSpace(rest)
		}
	case "ptime":
		if m != nil {
			n, err := strconv.Atoi(strings.TrimSpace(value))
			if err != nil || n <= 0 || n > 1000 {
				return fail(WarnMisc, "a=ptime %q", clip(value))
			}
			m.Ptime = n
		}
	}
	return nil
}

// Codec is what a stream was agreed to carry.
type Codec struct {
	// Law is the G.711 law both sides send, and PayloadType its RTP payload type.
	Law         g711.Law
	PayloadType uint8
	// EventPayloadType is the payload type of RFC 4733 telephone-event; 0: none.
	EventPayloadType uint8
}

// Stream is the audio stream an offer/answer exchange agreed on.
type Stream struct {
	Codec
	// Remote is where the peer receives RTP; not valid when the peer's address was
	// 0.0.0.0 (on hold, RFC 3264 §8.4) or the port 0.
	Remote netip.AddrPort
	// Direction is the peer's direction: whether it sends, receives.
	Direction Direction
}

// Local is this endpoint's side of a session: where it receives RTP, and the origin
// it writes, whose version must grow with each new description in a dialog.
type Local struct {
	Addr      netip.Addr
	Port      int
	SessionID uint64
	Version   uint64
	// Direction is the direction the endpoint asks for in an offer (empty:
	// sendrecv); in an answer it follows the offer's.
	Direction Direction
}

// codecOf recognises G.711 and telephone-event in a stream's formats, as RFC 3551
// assigns the static types and the rtpmap names them.
func codecOf(m Media, pt string) (law g711.Law, event bool, ok bool) {
	rtpmap, mapped := m.RTPMap[pt]
	if !mapped {
		switch pt {
		case "0":
			return g711.ULaw, false, true
		case "8":
			return g711.ALaw, false, true
		}
		return 0, false, false
	}
	enc, rest, _ := strings.Cut(rtpmap, "/")
	clock, channels, _ := strings.Cut(rest, "/")
	if clock != "8000" || channels != "" && channels != "1" {
		return 0, false, false
	}
	switch strings.ToUpper(enc) {
	case "PCMU":
		return g711.ULaw, false, true
	case "PCMA":
		return g711.ALaw, false, true
	case "TELEPHONE-EVENT":
		return 0, true, true
	}
	return 0, false, false
}

// audioStream reports whether m is an RTP audio stream the endpoint could take.
func audioStream(m Media) bool {
	return m.Type == "audio" && (m.Proto == "RTP/AVP" || m.Proto == "RTP/AVPF")
}

// Answer answers an offer (RFC 3264 §6): the first audio stream over RTP/AVP that
// offers PCMU or PCMA is accepted with the first of them in the offer's order of
// preference, and telephone-event when offered; every other stream is refused with
// port 0. An offer with no such stream is an *Error (305, or 304 without any audio).
func Answer(offer *Session, local Local) ([]byte, Stream, error) {
	var (
		out      Stream
		accepted = -1
	)
	for i, m := range offer.Media {
		if accepted >= 0 || !audioStream(m) || m.Port == 0 {
			continue
		}
		var (
			codec        Codec
			found, event bool
		)
		for _, pt := range m.Formats {
			law, isEvent, ok := codecOf(m, pt)
			if !ok {
				continue
			}
			n, _ := strconv.Atoi(pt)
			if isEvent {
				if !event && n >= 96 {
					codec.EventPayloadType, event = uint8(n), true
				}
				continue
			}
			if !found {
				codec.Law, codec.PayloadType, found = law, uint8(n), true
			}
		}
		if !found {
			continue
		}
		if !m.Conn.IsValid() {
			return nil, Stream{}, fail(WarnIncompatibleAddress, "the audio stream has no connection address")
		}
		accepted = i
		out = Stream{Codec: codec, Direction: m.Direction}
		if !m.Conn.IsUnspecified() {
			out.Remote = netip.AddrPortFrom(m.Conn, uint16(m.Port))
		}
	}
	if accepted < 0 {
		for _, m := range offer.Media {
			if m.Type == "audio" && m.Port != 0 {
				if !audioStream(m) {
					return nil, Stream{}, fail(WarnIncompatibleTransport, "audio is offered over %s; only RTP/AVP is available", clip(m.Proto))
				}
				return nil, Stream{}, fail(WarnIncompatibleFormat, "no offered audio format is PCMU or PCMA")
			}
		}
		return nil, Stream{}, fail(WarnMediaNotAvailable, "the offer has no audio stream")
	}
	var b strings.Builder
	writeHeader(&b, local)
	for i, m := range offer.Media {
		if i != accepted {
			// Refused: same media, port 0, the offered formats (RFC 3264 §6).
			fmt.Fprintf(&b, "m=%s 0 %s %s\r\n", m.Type, m.Proto, strings.Join(m.Formats, " "))
			continue
		}
		writeAudio(&b, local.Port, m.Proto, out.Codec, offer.Media[i].Direction.reverse())
	}
	return []byte(b.String()), out, nil
}

func addrType(a netip.Addr) string {
	if a.Is4() || a.Is4In6() {
		return "IP4"
	}
	return "IP6"
}

func writeHeader(b *strings.Builder, l Local) {
	addr := l.Addr.Unmap()
	fmt.Fprintf(b, "v=0\r\no=switchboard %d %d IN %s %s\r\ns=switchboard\r\nc=IN %s %s\r\nt=0 0\r\n",
		l.SessionID, l.Version, addrType(addr), addr, addrType(addr), addr)
}

func writeAudio(b *strings.Builder, port int, proto string, c Codec, dir Direction) {
	fmt.Fprintf(b, "m=audio %d %s %d", port, proto, c.PayloadType)
	if c.EventPayloadType != 0 {
		fmt.Fprintf(b, " %d", c.EventPayloadType)
	}
	fmt.Fprintf(b, "\r\na=rtpmap:%d %s/8000\r\n", c.PayloadType, c.Law)
	if c.EventPayloadType != 0 {
		fmt.Fprintf(b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-15\r\n", c.EventPayloadType, c.EventPayloadType)
	}
	fmt.Fprintf(b, "a=ptime:20\r\na=%s\r\n", dir)
}

// DefaultEventPayloadType is the telephone-event payload type of the endpoint's
// own offers.
const DefaultEventPayloadType = 101

// Offer is the endpoint's offer: one audio stream with PCMU, PCMA and
// telephone-event, in that order of preference.
func Offer(local Local) []byte {
	var b strings.Builder
	writeHeader(&b, local)
	dir := local.Direction
	if dir == "" {
		dir = SendRecv
	}
	fmt.Fprintf(&b, "m=audio %d RTP/AVP 0 8 %d\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"+
		"a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-15\r\na=ptime:20\r\na=%s\r\n",
		local.Port, DefaultEventPayloadType, DefaultEventPayloadType, DefaultEventPayloadType, dir)
	return []byte(b.String())
}

// ErrNotAnswer is an answer that does not fit the offer it answers.
var ErrNotAnswer = errors.New("sdp: the answer does not fit the offer")

// ReadAnswer reads the peer's answer to an Offer (RFC 3264 §7): its first stream
// must be audio with one of the offered laws; the answer's first listed law is the
// one both send.
func ReadAnswer(answer *Session) (Stream, error) {
	if len(answer.Media) != 1 {
		return Stream{}, fmt.Errorf("%w: %d streams answer one", ErrNotAnswer, len(answer.Media))
	}
	m := answer.Media[0]
	if m.Type != "audio" || m.Port == 0 {
		return Stream{}, fail(WarnIncompatibleFormat, "the audio stream was refused")
	}
	var (
		out   = Stream{Direction: m.Direction}
		found bool
	)
	for _, pt := range m.Formats {
		law, isEvent, ok := codecOf(m, pt)
		n, _ := strconv.Atoi(pt)
		switch {
		case !ok:
		case isEvent:
			if n == DefaultEventPayloadType && out.EventPayloadType == 0 {
				out.EventPayloadType = uint8(n)
			}
		case !found && (n == 0 || n == 8):
			out.Law, out.PayloadType, found = law, uint8(n), true
		}
	}
	if !found {
		return Stream{}, fail(WarnIncompatibleFormat, "the answer chose no offered format")
	}
	if !m.Conn.IsValid() {
		return Stream{}, fail(WarnIncompatibleAddress, "the answer has no connection address")
	}
	if !m.Conn.IsUnspecified() {
		out.Remote = netip.AddrPortFrom(m.Conn, uint16(m.Port))
	}
	return out, nil
}
