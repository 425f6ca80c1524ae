package activities_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
)

// smtpSink is a local SMTP server for the tests: it takes every e-mail (or refuses
// the recipients of rejectRcpt with 550) and keeps what it was given.
type smtpSink struct {
	l    net.Listener
	mu   sync.Mutex
	mail []sunkMail
	// rejectRcpt refuses a recipient for good.
	rejectRcpt string
}

// sunkMail is one e-mail the sink took.
type sunkMail struct {
	From string
	To   []string
	Data string
}

func newSMTPSink(t *testing.T) *smtpSink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpSink{l: l}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpSink) port() int { return s.l.Addr().(*net.TCPAddr).Port }

func (s *smtpSink) received() []sunkMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunkMail(nil), s.mail...)
}

// serve speaks the part of SMTP a client sending mail needs (RFC 5321).
func (s *smtpSink) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	reply := func(format string, args ...any) { fmt.Fprintf(c, format+"\r\n", args...) }
	reply("220 sink.test ESMTP ready")
	var cur sunkMail
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch verb {
		case "EHLO":
			reply("250-sink.test")
			reply("250 8BITMIME")
		case "HELO":
			reply("250 sink.test")
		case "MAIL":
			cur = sunkMail{From: addrOf(line)}
			reply("250 OK")
		case "RCPT":
			to := addrOf(line)
			s.mu.Lock()
			reject := s.rejectRcpt != "" && to == s.rejectRcpt
			s.mu.Unlock()
			if reject {
				reply("550 5.1.1 no such mailbox")
				continue
			}
			cur.To = append(cur.To, to)
			reply("250 OK")
		case "DATA":
			reply("354 go ahead")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			cur.Data = b.String()
			s.mu.Lock()
			s.mail = append(s.mail, cur)
			s.mu.Unlock()
			reply("250 OK queued")
		case "RSET", "NOOP":
			reply("250 OK")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

func addrOf(line string) string {
	i, j := strings.IndexByte(line, '<'), strings.IndexByte(line, '>')
	if i < 0 || j < i {
		return ""
	}
	return line[i+1 : j]
}
