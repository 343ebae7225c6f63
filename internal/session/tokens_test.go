package session_test

import (
	"context"
	"testing"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
)

// A refresh token's session that is still stored but dead — its user's token version
// moved on (logout-all, a password change, before the tidying deletes it), or its user
// is being deleted — is inactive, as Refresh would refuse it; introspection ends or
// rotates nothing, so the session is still there afterwards.
func TestIntrospect_AStoredSessionOfAnOlderTokenVersionOrADeletingUserIsInactive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, end := range map[string]func(f fixture, u lanyard.User){
		"version bumped": func(f fixture, u lanyard.User) {
			if _, err := f.st.UpdateUser(ctx, u.ID, store.UserChange{BumpVersion: true}, f.clock.Now()); err != nil {
				t.Fatal(err)
			}
		},
		"user deleting": func(f fixture, u lanyard.User) { f.markDeleting(t, u) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newSessions(t, options{})
			u := f.register(t, "ada@example.com", "")
			p := f.login(t, "ada@example.com")
			for _, tok := range []string{p.AccessToken, p.RefreshToken} {
				if i, err := f.svc.Introspect(ctx, tok); err != nil || !i.Active {
					t.Fatalf("Introspect before = %+v, %v; want active", i, err)
				}
			}
			end(f, u)
			for _, tok := range []string{p.AccessToken, p.RefreshToken} {
				if i, err := f.svc.Introspect(ctx, tok); err != nil || i.Active {
					t.Errorf("Introspect after = %+v, %v; want inactive", i, err)
				}
			}
			if _, stored := f.stored(t, p); !stored {
				t.Errorf("the session is gone after introspection; want it left as it was")
			}
		})
	}
}
