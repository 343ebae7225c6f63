package store

import (
	"context"
	"log/slog"
	"slices"
	"strings"
)

// ferretLog is the handler FerretDB logs through. FerretDB writes whole documents into
// its records — every request and response at debug level, with the SQL arguments of
// every query, and every failed command's response at warn — and those documents hold
// password hashes, session secret hashes, emails, usernames, ciphertexts and the names
// of attempted logins. So no record below info passes, whatever the logger below
// accepts, and a record that dumps a message body never passes. What remains —
// listeners, connections, failures without their bodies — is what a debug session
// needs from the store.
//
// Like cmd/lanyard's levelFloor, it applies the attributes and groups of the loggers
// derived from it only to a record that passes: FerretDB derives a logger for every
// SQL query it runs, and the text handler would otherwise format its attributes each
// time, for records that are then dropped.
type ferretLog struct {
	slog.Handler
	with []func(slog.Handler) slog.Handler // WithAttrs and WithGroup calls, in order
}

func newFerretLog(h slog.Handler) ferretLog { return ferretLog{Handler: h} }

func (h ferretLog) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo && h.Handler.Enabled(ctx, l)
}

func (h ferretLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelInfo || dumpsBody(r.Message) {
		return nil
	}
	inner := h.Handler
	for _, f := range h.with {
		inner = f(inner)
	}
	return inner.Handle(ctx, r)
}

// dumpsBody reports whether FerretDB's record prints a wire message or a diff of two:
// "Request message:\n…", "Response message:\n…", "Proxy response message:\n…",
// "Header diff:\n…\nBody diff:\n…". The "… header: …" records that go with them
// go too: without the body they say nothing.
func dumpsBody(msg string) bool {
	return strings.Contains(msg, " message:\n") || strings.Contains(msg, " header: ") || strings.HasPrefix(msg, "Header diff:")
}

func (h ferretLog) WithAttrs(as []slog.Attr) slog.Handler {
	return h.derive(func(in slog.Handler) slog.Handler { return in.WithAttrs(as) })
}

func (h ferretLog) WithGroup(name string) slog.Handler {
	return h.derive(func(in slog.Handler) slog.Handler { return in.WithGroup(name) })
}

func (h ferretLog) derive(f func(slog.Handler) slog.Handler) ferretLog {
	return ferretLog{h.Handler, append(slices.Clip(h.with), f)}
}
