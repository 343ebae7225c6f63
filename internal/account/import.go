package account

import (
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
)

// Imported is an account's fields as another application stored them, for an
// import; "" is a field it does not have.
type Imported struct {
	Email, Username, FirstName, LastName, Contact, Birthday string
}

// PrepareImport returns the account an import stores for r, as registration would
// shape it — the email and username in their normal forms, the contact number in
// its stored form — with the user role, active, and created and updated at now. It
// also returns every rule r breaks, one problem per field under the field's name,
// for the importer to decide what a problem costs (a bad email or username the
// account, a bad profile field only that field). The password is not judged:
// an imported account keeps the hash it has.
func PrepareImport(r Imported, now time.Time) (lanyard.User, *lanyard.InvalidError) {
	now = store.Millis(now)
	u := lanyard.User{
		Email:     NormalizeEmail(r.Email),
		Role:      lanyard.RoleUser,
		Status:    lanyard.StatusActive,
		CreatedAt: now,
		UpdatedAt: now,
	}
	var p problems
	p.add("email", checkEmail(u.Email))
	if r.Username != "" {
		name, msg := prepareUsername(r.Username)
		u.Username, u.UsernameKey = name, NormalizeUsername(name)
		p.add("username", msg)
	}
	opt := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	var s Service
	s.applyProfile(&p, &u, opt(r.FirstName), opt(r.LastName), opt(r.Contact), opt(r.Birthday), now)
	return u, &p.e
}
