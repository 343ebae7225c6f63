package lanyard

import "errors"

// ErrEmailNotVerified: the right password of an account whose email is not verified,
// where LANYARD_REQUIRE_VERIFIED_EMAIL asks for one. It is answered only after the
// password held, so it tells nothing to someone who does not know it.
var ErrEmailNotVerified = errors.New("the account's email address is not verified")

// ErrEmailAlreadyVerified: a verification mail asked for by an account whose email is
// verified already.
var ErrEmailAlreadyVerified = errors.New("the account's email address is verified already")
