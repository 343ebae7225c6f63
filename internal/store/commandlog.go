package store

import (
	"context"
	"log/slog"

	"go.mongodb.org/mongo-driver/v2/event"
)

// logCommands adds a debug line per store command to next (which may be nil): the
// command's name, its database, how long it took and whether it failed — never its
// documents, nor the failure's message, which can quote them (a duplicate key's
// value). This is what a debug session learns of the store, now that FerretDB's own
// tracing, which prints every document, is kept out of the log. Below debug it adds
// nothing.
func logCommands(log *slog.Logger, next *event.CommandMonitor) *event.CommandMonitor {
	if log == nil || !log.Enabled(context.Background(), slog.LevelDebug) {
		return next
	}
	if next == nil {
		next = &event.CommandMonitor{}
	}
	return &event.CommandMonitor{
		Started: next.Started,
		Succeeded: func(ctx context.Context, e *event.CommandSucceededEvent) {
			log.LogAttrs(ctx, slog.LevelDebug, "store command", slog.String("command", e.CommandName),
				slog.String("db", e.DatabaseName), slog.Duration("duration", e.Duration))
			if next.Succeeded != nil {
				next.Succeeded(ctx, e)
			}
		},
		Failed: func(ctx context.Context, e *event.CommandFailedEvent) {
			log.LogAttrs(ctx, slog.LevelDebug, "store command failed", slog.String("command", e.CommandName),
				slog.String("db", e.DatabaseName), slog.Duration("duration", e.Duration))
			if next.Failed != nil {
				next.Failed(ctx, e)
			}
		},
	}
}
