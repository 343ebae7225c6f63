package lanyard

// Proof is what a way in proved about a person: who they are, and how (AMR, RFC 8176
// authentication method references, e.g. AMRPassword). A method makes it; one place,
// session.Service.Issue, starts a session for it, which never decides whether the
// person may have one: that was the method's to decide.
type Proof struct {
	User User
	AMR  []string
	// KnownAddrs, unless nil, are the user's known addresses now that the proof came
	// from its client's address (the throttle's memory of where an account logs in
	// from): the session issued for the proof records them in the same write that
	// lists the session, so a login costs no write more for them.
	KnownAddrs []KnownAddress
}

// AMRPassword is the AMR value (RFC 8176) of a password.
const AMRPassword = "pwd"
