package media_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// The torture messages of RFC 4475 (testdata/rfc4475, as the RFC's archive holds
// them) and RFC 5118 for IPv6 (testdata/rfc5118, written out from the RFC), sent
// over UDP and TCP to a media host that is a registrar and answers calls. Each is
// either handled (a final answer from the method's handler: 200, 401, 404 for a
// number or domain no tenant has, 405 for a method the host does not serve),
// rejected (a 4xx or 5xx naming what is wrong, or dropped when it cannot even be
// parsed), or, for responses, dropped. No message may crash the host or make it log
// an error, and the host answers OPTIONS afterwards.

const (
	// dropped: no answer (unparsable, or a response matching no transaction).
	dropped = 0
	// rejected: dropped or any 4xx or 5xx; for invalid messages where the RFC
	// leaves the answer to the element.
	rejected = -1
)

// tortureCases are the messages and the final status they get. A positive status
// is required exactly.
var tortureCases = map[string]int{
	// RFC 4475 §3.1.1: valid messages.
	"wsinv":   400, // see parserLimits
	"intmeth": 405, "esc01": 404, "escnull": 404, "esc02": 405, "lwsdisp": 200, "longreq": 404,
	"dblreq": 404, "semiuri": 200, "transports": 200, "mpart01": 405,
	"unreason": dropped, "noreason": dropped, // responses to no request
	// §3.1.2: invalid messages.
	"badinv01": rejected, "clerr": rejected, "scalar02": rejected, "scalarlg": rejected, "quotbal": rejected,
	"ltgtruri": rejected, "lwsruri": rejected, "lwsstart": rejected, "trws": rejected, "escruri": rejected,
	"baddate": rejected, "regbadct": rejected, "badaspec": rejected, "baddn": rejected,
	"badvers": 505, "mismatch01": 400, "mismatch02": 400, "bigcode": dropped,
	// §3.2: a branch that is only the magic cookie is still a request.
	"badbranch": 200,
	// §3.3: semantics.
	"insuf": 400, "unkscm": 416, "novelsc": rejected, "unksm2": rejected, "bext01": 420, "invut": rejected,
	"regaut01": 404, "multi01": 400, "mcl01": 400, "bcast": dropped, "zeromf": 200, "cparam01": 404,
	"cparam02": 404, "regescrt": rejected, "sdp01": 404,
	"inv2543": 400, // see parserLimits
	"ncl":     rejected,
	// RFC 5118: IPv6 references. Valid ones: REGISTERs to a domain no tenant
	// has (404), INVITEs to a number no tenant has (404), OPTIONS and BYE.
	"ipv6-good": 404, "port-unambiguous": 404, "via-received-param-with-delim": 481,
	"via-received-param-no-delim": 200, "ipv6-in-sdp": 404, "mult-ip-in-header": 481, "mult-ip-in-sdp": 404,
	"ipv4-mapped-ipv6": 404, "ipv6-correct-abnf-2-colons": 200,
	// Invalid ones.
	"ipv6-bad": rejected, "port-ambiguous": rejected, "ipv6-bug-abnf-3-colons": rejected,
}

// tortureOverTCP are the answers that differ on a stream: the RFC writes dblreq
// and inv2543 for a datagram, and their Content-Length does not frame them on a
// stream, nor do mcl01's two Content-Lengths; the framing error closes the
// connection (RFC 3261 §18.3), often before an answer goes out.
var tortureOverTCP = map[string]int{"dblreq": rejected, "inv2543": rejected, "mcl01": rejected}

// parserLimits are valid RFC 4475 messages the SIP stack (sipgo) cannot take and
// answers 400: white space around '=' in a header parameter (wsinv) and an RFC
// 2543 request without a From tag (inv2543), from which it builds no transaction.
var parserLimits = []string{"wsinv", "inv2543"}

// uniqueBranch makes the top Via's branch unique, keeping its magic cookie: the
// RFC's messages share branches and sent-by addresses, and replayed to one host
// within a transaction's lifetime they would be taken as retransmissions.
func uniqueBranch(msg []byte, n int) []byte {
	return bytes.Replace(msg, []byte("branch=z9hG4bK"), []byte(fmt.Sprintf("branch=z9hG4bK%03dt-", n)), 1)
}

// withRport makes the answer to a UDP message come back to the sending socket: the
// first Via value gets rport (RFC 3581), so the host answers the source port
// rather than the one the Via names.
func withRport(msg []byte) []byte {
	lines := bytes.SplitAfter(msg, []byte("\n"))
	for i, l := range lines {
		if len(bytes.TrimSpace(l)) == 0 {
			return msg // the end of the headers: no Via
		}
		name, _, ok := bytes.Cut(l, []byte(":"))
		if n := strings.ToLower(strings.TrimSpace(string(name))); !ok || n != "via" && n != "v" {
			continue
		}
		// The Via's logical line runs over its folded continuation lines.
		end := i + 1
		for end < len(lines) && len(lines[end]) > 0 && (lines[end][0] == ' ' || lines[end][0] == '\t') {
			end++
		}
		header := bytes.Join(lines[i:end], nil)
		value := bytes.TrimRight(header, "\r\n")
		cut := len(value)
		if c := bytes.IndexByte(value, ','); c >= 0 {
			cut = c
		}
		out := bytes.Join(lines[:i], nil)
		out = append(out, value[:cut]...)
		out = append(out, ";rport"...)
		out = append(out, value[cut:]...)
		out = append(out, header[len(value):]...)
		return append(out, bytes.Join(lines[end:], nil)...)
	}
	return msg
}

func TestTortureMessages(t *testing.T) {
	var files []string
	for _, dir := range []string{"testdata/rfc4475", "testdata/rfc5118"} {
		f, err := filepath.Glob(filepath.Join(dir, "*.dat"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f...)
	}
	if len(files) != len(tortureCases) {
		t.Fatalf("%d message files, %d expectations", len(files), len(tortureCases))
	}
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			// A host of its own: the messages reuse Call-IDs across transports.
			cs := startCallServer(t)
			for i, f := range files {
				name := strings.TrimSuffix(filepath.Base(f), ".dat")
				want, ok := tortureCases[name]
				if !ok {
					t.Fatalf("no expectation for %s", name)
				}
				if w, ok := tortureOverTCP[name]; ok && network == "tcp" {
					want = w
				}
				msg, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				msg = uniqueBranch(msg, i)
				if network == "udp" {
					msg = withRport(msg)
				}
				wait := 2 * time.Second
				if want == dropped || want == rejected {
					wait = 400 * time.Millisecond
				}
				limit := 1
				if name == "dblreq" && network == "tcp" {
					limit = 2
				}
				got := finalStatus(cs.exchange(t, network, msg, wait, limit))
				switch {
				case want == rejected && (got == dropped || got >= 400):
				case got == want:
				default:
					t.Errorf("%s: answered %d, want %s", name, got, statusName(want))
				}
			}
			cs.assertOptionsOK(t)
		})
	}
}

// finalStatus is the status of the last final response, 0 for none.
func finalStatus(res []*sip.Response) int {
	for i := len(res) - 1; i >= 0; i-- {
		if res[i].StatusCode >= 200 {
			return res[i].StatusCode
		}
	}
	return dropped
}

func statusName(s int) string {
	switch s {
	case dropped:
		return "no answer"
	case rejected:
		return "a 4xx or 5xx, or no answer"
	}
	return fmt.Sprint(s)
}
