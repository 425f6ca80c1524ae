package activities

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"switchboard/automation"
	"switchboard/pgstore"
)

// defaultSMTPTimeout bounds one e-mail's delivery.
const defaultSMTPTimeout = 20 * time.Second

// mailMessage is one plain-text e-mail.
type mailMessage struct {
	To      []string
	Subject string
	Body    string
	// MessageID makes a retried send recognisable as the same e-mail.
	MessageID string
}

// email does an e-mail action: to the customer, to external recipients, the
// transcript to the customer, or a notification.
func (a *Activities) email(ctx context.Context, in ActionRequest, cc pgstore.ConversationContext, values automation.Values) (map[string]any, error) {
	act := in.Action
	ix := cc.Interaction
	m := mailMessage{Subject: automation.Resolve(act.Subject, values, automation.Plain), MessageID: "automation." + strings.ReplaceAll(in.key(), "/", ".")}
	switch act.Type {
	case automation.ActionEmailCustomer:
		if ix.Source != "email" {
			return nil, failed("not sent: the conversation is not an e-mail one (emailCustomer answers e-mail conversations)")
		}
		to := customerAddress(ix)
		if _, err := mail.ParseAddress(to); err != nil {
			return nil, failed("not sent: the conversation has no customer e-mail address")
		}
		m.To, m.Body = []string{to}, automation.Resolve(act.Content, values, automation.Plain)
	case automation.ActionEmailExternal:
		m.To, m.Body = act.To, automation.Resolve(act.Content, values, automation.Plain)
	case automation.ActionNotifyByEmail:
		m.To = act.To
		if act.Content != "" {
			m.Body = automation.Resolve(act.Content, values, automation.Plain)
		} else {
			m.Body = notification(cc, values)
		}
	case automation.ActionEmailTranscript:
		if cc.Customer == nil || len(cc.Customer.Emails) == 0 {
			return nil, failed("not sent: the conversation's customer has no e-mail address")
		}
		body, err := a.transcript(ctx, cc)
		if err != nil {
			return nil, err
		}
		m.To, m.Body = []string{cc.Customer.Emails[0]}, body
	}
	settings, err := a.Store.GetSMTPSettings(ctx, in.TenantID)
	if errors.Is(err, pgstore.ErrNotFound) {
		return nil, failed("not sent: the tenant has no SMTP settings (PUT /v1/automations/smtp)")
	}
	if err != nil {
		return nil, err
	}
	timeout := a.Automations.SMTPTimeout
	if timeout <= 0 {
		timeout = defaultSMTPTimeout
	}
	detail := map[string]any{"to": m.To, "subject": m.Subject}
	if err := sendMail(ctx, settings, m, timeout); err != nil {
		return detail, err
	}
	return detail, nil
}

// notification is the body of a notification without content of its own.
func notification(cc pgstore.ConversationContext, v automation.Values) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Conversation #%s (%s)\n", v[automation.PlaceholderShortID], cc.Interaction.ID)
	fmt.Fprintf(&b, "Status: %s\nChannel: %s\n", v[automation.PlaceholderConversationStatus], v[automation.PlaceholderConversationChannel])
	if c := v[automation.PlaceholderCustomerName]; c != "" {
		fmt.Fprintf(&b, "Customer: %s\n", c)
	}
	if c := v[automation.PlaceholderCustomerContact]; c != "" {
		fmt.Fprintf(&b, "Contact: %s\n", c)
	}
	if a := v[automation.PlaceholderAgentName]; a != "" {
		fmt.Fprintf(&b, "Agent: %s\n", a)
	}
	return b.String()
}

// transcript is the conversation's messages as text.
func (a *Activities) transcript(ctx context.Context, cc pgstore.ConversationContext) (string, error) {
	msgs, err := a.Store.Messages(ctx, cc.Interaction.TenantID, cc.Interaction.ID, 0, pgstore.MaxTranscriptLimit)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Transcript of conversation #%d\n\n", cc.ShortID)
	for _, m := range msgs {
		who := "You"
		switch m.SenderKind {
		case pgstore.SenderAgent:
			who = "Agent"
			if cc.AgentName != "" && m.SenderID == cc.Interaction.AgentID {
				who = cc.AgentName
			}
		case pgstore.SenderBot, pgstore.SenderSystem:
			who = "Automatic message"
		}
		fmt.Fprintf(&b, "[%s] %s: %s\n", m.CreatedAt.UTC().Format("2006-01-02 15:04"), who, m.Body)
		for _, at := range m.Attachments {
			fmt.Fprintf(&b, "    attachment: %s %s\n", at.Name, at.URL)
		}
	}
	return b.String(), nil
}

// sendMail delivers m through the tenant's SMTP server. A refusal for good (a 5xx
// answer) fails the action; anything else (no connection, a 4xx, a timeout) is
// retried.
func sendMail(ctx context.Context, s pgstore.SMTPSettings, m mailMessage, timeout time.Duration) error {
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	dialer := &net.Dialer{Deadline: deadline}
	var conn net.Conn
	var err error
	if s.Security == "tls" {
		conn, err = tls.DialWithDialer(dialer, "tcp", addr, &tls.Config{ServerName: s.Host})
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return temporal.NewApplicationError(fmt.Sprintf("the SMTP server %s could not be reached: %v", addr, err), ErrTypeActionRetry)
	}
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		conn.Close()
		return smtpError(addr, err)
	}
	defer c.Close()
	if s.Security == "starttls" {
		if err := c.StartTLS(&tls.Config{ServerName: s.Host}); err != nil {
			return smtpError(addr, err)
		}
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, s.Host)); err != nil {
			return smtpError(addr, err)
		}
	}
	if err := c.Mail(s.FromAddress); err != nil {
		return smtpError(addr, err)
	}
	for _, to := range m.To {
		if err := c.Rcpt(to); err != nil {
			return smtpError(addr, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpError(addr, err)
	}
	if _, err := w.Write(composeMail(s, m)); err != nil {
		return smtpError(addr, err)
	}
	if err := w.Close(); err != nil {
		return smtpError(addr, err)
	}
	if err := c.Quit(); err != nil {
		return smtpError(addr, err)
	}
	return nil
}

// composeMail is the message as sent: headers and a quoted-printable UTF-8 body.
func composeMail(s pgstore.SMTPSettings, m mailMessage) []byte {
	var b bytes.Buffer
	from := (&mail.Address{Name: s.FromName, Address: s.FromAddress}).String()
	host := s.FromAddress[strings.LastIndexByte(s.FromAddress, '@')+1:]
	fmt.Fprintf(&b, "From: %s\r\n", from)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(m.To, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", strings.NewReplacer("\r", " ", "\n", " ").Replace(m.Subject)))
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", m.MessageID, host)
	b.WriteString("Auto-Submitted: auto-generated\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")))
	_ = qp.Close()
	b.WriteString("\r\n")
	return b.Bytes()
}

func smtpError(addr string, err error) error {
	var proto *textproto.Error
	if errors.As(err, &proto) && proto.Code >= 500 {
		return failed("the SMTP server %s refused the e-mail: %d %s", addr, proto.Code, proto.Msg)
	}
	return temporal.NewApplicationError(fmt.Sprintf("the SMTP server %s: %v", addr, err), ErrTypeActionRetry)
}
