package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/lanyard/lanyard"
)

// discardHeaders is a headerSetter that keeps nothing, so the benchmark measures the
// mapping alone.
type discardHeaders struct{}

func (discardHeaders) SetHeader(string, string) {}

// BenchmarkProblemFor maps domain errors, wrapped as the domain packages return
// them, to problem documents: near the top of the table (invalid), near the bottom
// (not found), with headers (throttled) and unmapped (500).
func BenchmarkProblemFor(b *testing.B) {
	cases := []struct {
		name   string
		err    error
		status int
	}{
		{"invalid", fmt.Errorf("register: %w", &lanyard.InvalidError{Fields: []lanyard.FieldError{
			{Location: "email", Message: "must be an email address such as ada@example.com"},
			{Location: "password", Message: "must be at least 8 characters"},
		}}), http.StatusUnprocessableEntity},
		{"not_found", fmt.Errorf("get user: %w", fmt.Errorf("user by id: %w", lanyard.ErrNotFound)), http.StatusNotFound},
		{"throttled", fmt.Errorf("login: %w", &lanyard.ThrottledError{RetryAfter: 2 * time.Second}), http.StatusTooManyRequests},
		{"unmapped", errors.New("something unexpected"), http.StatusInternalServerError},
	}
	ctx := context.Background()
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p := problemFor(ctx, discardHeaders{}, c.err); p.Status != c.status {
					b.Fatalf("problemFor(%v).Status = %d; want %d", c.err, p.Status, c.status)
				}
			}
		})
	}
}
