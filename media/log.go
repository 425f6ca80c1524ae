package media

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/emiago/sipgo/sip"
)

// SetSIPLibraryLogger sends the logs sipgo writes to its package-wide
// default logger (connection reference counting, the TCP transport) to l,
// adapted like a Server's. sipgo reads that default without locking, so call
// it once at process start, before any Server or sipgo client exists. A nil
// l means slog.Default().
func SetSIPLibraryLogger(l *slog.Logger) {
	if l == nil {
		l = slog.Default()
	}
	sip.SetDefaultLogger(slog.New(sipLogHandler{l.With("component", "sip").Handler()}))
}

// maxLoggedValue bounds each string logged on sipgo's behalf: sipgo puts
// whole unparsable packets (up to 64 KiB, chosen by the peer) into its logs.
const maxLoggedValue = 512

// sipLogHandler adapts sipgo's logging to this service. Inside the SIP
// stack an Error is a bad packet or a failed transaction caused by a peer,
// which the service can only note, so it becomes Warn; sipgo's Info is
// per-message chatter, so it becomes Debug.
type sipLogHandler struct{ next slog.Handler }

func sipLevel(l slog.Level) slog.Level {
	switch {
	case l >= slog.LevelError:
		return slog.LevelWarn
	case l >= slog.LevelWarn:
		return l
	default:
		return slog.LevelDebug
	}
}

func (h sipLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, sipLevel(l))
}

func (h sipLogHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, sipLevel(r.Level), r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(boundAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h sipLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	bounded := make([]slog.Attr, len(as))
	for i, a := range as {
		bounded[i] = boundAttr(a)
	}
	return sipLogHandler{h.next.WithAttrs(bounded)}
}

func (h sipLogHandler) WithGroup(name string) slog.Handler {
	return sipLogHandler{h.next.WithGroup(name)}
}

func boundAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); len(s) > maxLoggedValue {
			return slog.String(a.Key, truncate(s))
		}
	case slog.KindAny:
		// Parse errors quote the offending line, so they are as long as the
		// peer wants.
		if err, ok := v.Any().(error); ok {
			if s := err.Error(); len(s) > maxLoggedValue {
				return slog.String(a.Key, truncate(s))
			}
		}
	case slog.KindGroup:
		as := v.Group()
		bounded := make([]any, len(as))
		for i, g := range as {
			bounded[i] = boundAttr(g)
		}
		return slog.Group(a.Key, bounded...)
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func truncate(s string) string {
	return fmt.Sprintf("%s…[%d bytes total]", s[:maxLoggedValue], len(s))
}
