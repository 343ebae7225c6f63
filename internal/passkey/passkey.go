// Package passkey owns passkeys: WebAuthn (level 2) credentials registered to an
// account, through github.com/go-webauthn/webauthn as the relying party. It makes the
// creation and request options, verifies what the authenticator answers, and keeps
// the credentials (store.AddPasskey and its kin); method.Passkey turns a verified
// assertion into a proof.
//
// Each ceremony's state is a flow (internal/flow) whose token is the challenge itself:
// the options carry it, the authenticator signs it, and the answer's clientDataJSON
// gives it back, so the client posts exactly what the browser made and the flow is
// found by it, once, before its TTL.
package passkey

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/flow"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/subkey"
)

// MaxPerUser is the most passkeys one account holds.
const MaxPerUser = 20

// CeremonyTTL is how long options stay answerable: the challenge's flow expires then,
// and the options tell the browser the same timeout.
const CeremonyTTL = 5 * time.Minute

// maxName bounds a passkey's name, in characters.
const maxName = 64

// Flow kinds of the ceremonies. A challenge is taken only as the kind it was made for,
// so a sign-in challenge cannot finish a registration.
const (
	KindRegister lanyard.FlowKind = "webauthn_register"
	KindLogin    lanyard.FlowKind = "webauthn_login"
	KindMFA      lanyard.FlowKind = "webauthn_mfa" // a passkey as the second factor of a login
)

// infoHandle is the HKDF info of the subkey that seals user handles.
const infoHandle = "lanyard/webauthn/user-handle/v1"

// Options configure a Service.
type Options struct {
	Store   *store.Store
	Flows   *flow.Service
	DataKey []byte
	RPID    string   // LANYARD_WEBAUTHN_RP_ID
	Origins []string // LANYARD_WEBAUTHN_ORIGINS
	RPName  string   // shown by authenticators; default "Lanyard"
	Now     func() time.Time
}

// Service registers, lists and removes passkeys and verifies assertions.
type Service struct {
	st      *store.Store
	flows   *flow.Service
	wa      *webauthn.WebAuthn
	handles cipher.Block
	now     func() time.Time
}

// New returns a Service for the relying party o names.
func New(o Options) (*Service, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RPName == "" {
		o.RPName = "Lanyard"
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          o.RPID,
		RPDisplayName: o.RPName,
		RPOrigins:     o.Origins,
		// Attestation is not asked for (none): Lanyard trusts no authenticator model more
		// than another, so it neither needs nor keeps a statement.
		AttestationPreference: protocol.PreferNoAttestation,
		Timeouts: webauthn.TimeoutsConfig{
			// The flow's TTL enforces these, on the service's clock.
			Login:        webauthn.TimeoutConfig{Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	key, err := subkey.Derive(o.DataKey, infoHandle)
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	return &Service{st: o.Store, flows: o.Flows, wa: wa, handles: block, now: o.Now}, nil
}

// Public is a passkey as its owner sees it: no credential id, key or counter.
type Public struct {
	ID         string
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used
}

// PublicOf is the public view of p.
func PublicOf(p lanyard.Passkey) Public {
	return Public{ID: p.ID.Hex(), Name: p.Name, CreatedAt: p.CreatedAt, LastUsedAt: p.LastUsedAt}
}

// View is the built-in relation passkeys' view (relation.View): what export and expand
// hand out of a stored passkey. Public key material is not secret, but it is of no use
// to anyone but this service, so it stays here.
func View(d store.Document) (any, error) {
	p, err := d.Passkey()
	if err != nil {
		return nil, fmt.Errorf("passkey view: %w", err)
	}
	return PublicOf(p), nil
}

// Actor describes who asked, for the audit trail.
type Actor struct {
	IP        string
	UserAgent string
}

// Handle is the user handle (WebAuthn's user.id) of the account id: the id sealed
// as one AES block under a subkey of LANYARD_DATA_KEY. It is stable, says nothing
// of the account to anyone without the key (neither its email nor its id), and
// opens back into the id without a lookup.
func (s *Service) Handle(id lanyard.ID) []byte {
	var block [aes.BlockSize]byte
	copy(block[:], id[:])
	s.handles.Encrypt(block[:], block[:])
	return block[:]
}

// userOf opens a user handle; false when it is not one Handle made.
func (s *Service) userOf(handle []byte) (lanyard.ID, bool) {
	if len(handle) != aes.BlockSize {
		return lanyard.ID{}, false
	}
	var block [aes.BlockSize]byte
	s.handles.Decrypt(block[:], handle)
	var id lanyard.ID
	copy(id[:], block[:])
	for _, b := range block[len(id):] {
		if b != 0 {
			return lanyard.ID{}, false
		}
	}
	return id, true
}

// Options makes the creation options for a new passkey of u: a discoverable
// credential (resident key required, so it signs in without a login name), user
// verification preferred, no attestation, the passkeys u holds excluded.
func (s *Service) Options(ctx context.Context, u lanyard.User) (*protocol.CredentialCreation, error) {
	keys, err := s.st.PasskeysOf(ctx, u, s.now())
	if err != nil {
		return nil, fmt.Errorf("passkey options: %w", err)
	}
	if len(keys) >= MaxPerUser {
		return nil, tooMany()
	}
	wu := s.user(u, keys)
	creation, sd, err := s.wa.BeginRegistration(wu,
		webauthn.WithExclusions(webauthn.Credentials(wu.creds).CredentialDescriptors()),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationPreferred,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("passkey options: %w", err)
	}
	if creation.Response.Challenge, err = s.start(ctx, KindRegister, u.ID, sd); err != nil {
		return nil, fmt.Errorf("passkey options: %w", err)
	}
	return creation, nil
}

// Register verifies a created credential (PublicKeyCredential.toJSON()) against the
// challenge of u's registration options and keeps it under name. The challenge is
// spent whether or not the credential verifies: a bad answer needs new options.
func (s *Service) Register(ctx context.Context, u lanyard.User, name string, body []byte, by Actor) (Public, error) {
	name, msg := checkName(name)
	if msg != "" {
		bad := &lanyard.InvalidError{}
		bad.Add("query.name", msg)
		return Public{}, bad
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return Public{}, invalidBody("is not a credential as PublicKeyCredential.toJSON() gives it from navigator.credentials.create()")
	}
	f, sd, err := s.take(ctx, KindRegister, parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return Public{}, fmt.Errorf("register passkey: %w", err)
	}
	if f.UserID != u.ID {
		return Public{}, fmt.Errorf("register passkey: %w", lanyard.ErrFlowInvalid)
	}
	keys, err := s.st.PasskeysOf(ctx, u, s.now())
	if err != nil {
		return Public{}, fmt.Errorf("register passkey: %w", err)
	}
	cred, err := s.wa.CreateCredential(s.user(u, keys), sd, parsed)
	if err != nil {
		return Public{}, invalidBody("does not verify: it was not made for this service's challenge, origin and RP ID, or its signature is wrong")
	}
	for _, k := range keys {
		if string(k.CredentialID) == string(cred.ID) {
			return Public{}, &lanyard.ConflictError{Message: "this passkey is already registered"}
		}
	}
	now := store.Millis(s.now())
	p := lanyard.Passkey{
		ID: store.NewID(), UserID: u.ID, Name: name, CredentialID: cred.ID, PublicKey: cred.PublicKey,
		SignCount: cred.Authenticator.SignCount, AAGUID: cred.Authenticator.AAGUID, AttestationFormat: cred.AttestationFormat,
		BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState, UserVerified: cred.Flags.UserVerified,
		CreatedAt: now,
	}
	for _, t := range cred.Transport {
		p.Transports = append(p.Transports, string(t))
	}
	switch err := s.st.AddPasskey(ctx, &p, MaxPerUser); {
	case errors.Is(err, store.ErrTooManyPasskeys):
		return Public{}, tooMany()
	case errors.Is(err, store.ErrDuplicate):
		return Public{}, &lanyard.ConflictError{Message: "this passkey is already registered"}
	case err != nil:
		return Public{}, fmt.Errorf("register passkey: %w", err)
	}
	s.audit(ctx, u.ID, "passkey.added", p, by)
	return PublicOf(p), nil
}

// List is u's passkeys, newest first.
func (s *Service) List(ctx context.Context, u lanyard.User) ([]Public, error) {
	keys, err := s.st.PasskeysOf(ctx, u, s.now())
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	out := make([]Public, len(keys))
	for i, k := range keys {
		out[i] = PublicOf(k)
	}
	return out, nil
}

// Remove deletes u's passkey id (hex); lanyard.ErrNotFound when u has none such. The
// caller has checked that u proved themselves again (a password or an assertion).
func (s *Service) Remove(ctx context.Context, u lanyard.User, id string, by Actor) error {
	pid, err := lanyard.ParseID(id)
	if err != nil {
		return fmt.Errorf("remove passkey: %w", lanyard.ErrNotFound)
	}
	p, err := s.st.RemovePasskey(ctx, u.ID, pid)
	if err != nil {
		return fmt.Errorf("remove passkey: %w", err)
	}
	s.audit(ctx, u.ID, "passkey.removed", p, by)
	return nil
}

// LoginOptions makes the request options of a sign-in with a discoverable passkey: no
// allowCredentials (the authenticator offers the passkeys it holds for the RP ID) and
// user verification required, since the passkey is the only factor.
func (s *Service) LoginOptions(ctx context.Context) (*protocol.CredentialAssertion, error) {
	assertion, sd, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("passkey login options: %w", err)
	}
	if assertion.Response.Challenge, err = s.start(ctx, KindLogin, lanyard.ID{}, sd); err != nil {
		return nil, fmt.Errorf("passkey login options: %w", err)
	}
	return assertion, nil
}

// Verify checks an assertion (PublicKeyCredential.toJSON() from
// navigator.credentials.get()) against the challenge of sign-in options (kind
// KindLogin), whoever's passkey it is. It answers the passkey's user and records the
// sign-in (the new counter, the last use).
//
// A body that is no assertion is a *lanyard.InvalidError; a challenge that is unknown,
// spent, expired or of another kind is lanyard.ErrFlowInvalid; everything else that
// fails — an unknown credential, another user's, a wrong origin, RP ID or signature,
// no user verification where it is required, a counter that did not advance, an
// account being deleted — is lanyard.ErrBadCredentials.
func (s *Service) Verify(ctx context.Context, body []byte, by Actor) (lanyard.User, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return lanyard.User{}, invalidBody("is not an assertion as PublicKeyCredential.toJSON() gives it from navigator.credentials.get()")
	}
	_, sd, err := s.take(ctx, KindLogin, parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return lanyard.User{}, fmt.Errorf("verify passkey: %w", err)
	}
	var storeErr error
	load := func(id lanyard.ID) (*waUser, error) {
		u, err := s.st.UserByID(ctx, id)
		if err != nil {
			storeErr = err
			return nil, err
		}
		keys, err := s.st.PasskeysOf(ctx, u, s.now())
		if err != nil {
			storeErr = err
			return nil, err
		}
		return s.user(u, keys), nil
	}
	got, cred, err := s.wa.ValidatePasskeyLogin(func(_, handle []byte) (webauthn.User, error) {
		id, ok := s.userOf(handle)
		if !ok {
			return nil, lanyard.ErrNotFound
		}
		return load(id)
	}, sd, parsed)
	wu, _ := got.(*waUser)
	if storeErr != nil && !errors.Is(storeErr, lanyard.ErrNotFound) {
		return lanyard.User{}, fmt.Errorf("verify passkey: %w", storeErr)
	}
	if err != nil || wu == nil {
		return lanyard.User{}, fmt.Errorf("verify passkey: %w", lanyard.ErrBadCredentials)
	}
	if err := s.used(ctx, wu, cred, by); err != nil {
		return lanyard.User{}, err
	}
	return wu.u, nil
}

// used records a verified assertion of credential cred of wu's: the passkey must be
// wu's and wu active, and its counter must have advanced — then the new counter and
// the last use are stored by compare-and-set, so that of two assertions carrying the
// same counter only one passes.
func (s *Service) used(ctx context.Context, wu *waUser, cred *webauthn.Credential, by Actor) error {
	p := wu.passkey(cred.ID)
	if p == nil || !wu.u.IsActive() {
		return fmt.Errorf("verify passkey: %w", lanyard.ErrBadCredentials)
	}
	if cred.Authenticator.CloneWarning {
		// The library only flags a counter that did not advance; Lanyard refuses the
		// assertion and keeps the stored counter, so a clone stays refused until the
		// owner removes the passkey.
		s.audit(ctx, wu.u.ID, "passkey.counter_regressed", *p, by)
		return fmt.Errorf("verify passkey: counter did not advance: %w", lanyard.ErrBadCredentials)
	}
	ok, err := s.st.UsePasskey(ctx, *p, cred.Authenticator.SignCount, cred.Flags.BackupState, s.now())
	if err != nil {
		return fmt.Errorf("verify passkey: %w", err)
	}
	if !ok {
		return fmt.Errorf("verify passkey: counter moved meanwhile: %w", lanyard.ErrBadCredentials)
	}
	return nil
}

// MFAOptions are the request options of a passkey as u's second factor, after the
// password: u's own passkeys allowed, user verification preferred (the password was
// the other factor). lanyard.ErrBadCredentials when u holds none, as for any factor
// u lacks.
func (s *Service) MFAOptions(ctx context.Context, u lanyard.User) (*protocol.CredentialAssertion, error) {
	keys, err := s.st.PasskeysOf(ctx, u, s.now())
	if err != nil {
		return nil, fmt.Errorf("passkey mfa options: %w", err)
	}
	if len(keys) == 0 || !u.IsActive() {
		return nil, fmt.Errorf("passkey mfa options: %w", lanyard.ErrBadCredentials)
	}
	assertion, sd, err := s.wa.BeginLogin(s.user(u, keys), webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, fmt.Errorf("passkey mfa options: %w", err)
	}
	// Read again from the store when the answer comes: a passkey removed meanwhile
	// must not pass.
	sd.AllowedCredentialIDs = nil
	if assertion.Response.Challenge, err = s.start(ctx, KindMFA, u.ID, sd); err != nil {
		return nil, fmt.Errorf("passkey mfa options: %w", err)
	}
	return assertion, nil
}

// VerifySecond checks an assertion answering MFAOptions for u: the challenge must be
// one made for u (kind KindMFA), the credential one of u's passkeys now. Failures are
// Verify's.
func (s *Service) VerifySecond(ctx context.Context, u lanyard.User, body []byte, by Actor) error {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return invalidBody("is not an assertion as PublicKeyCredential.toJSON() gives it from navigator.credentials.get()")
	}
	f, sd, err := s.take(ctx, KindMFA, parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return fmt.Errorf("verify passkey: %w", err)
	}
	if f.UserID != u.ID {
		return fmt.Errorf("verify passkey: %w", lanyard.ErrFlowInvalid)
	}
	keys, err := s.st.PasskeysOf(ctx, u, s.now())
	if err != nil {
		return fmt.Errorf("verify passkey: %w", err)
	}
	wu := s.user(u, keys)
	for _, c := range wu.creds {
		sd.AllowedCredentialIDs = append(sd.AllowedCredentialIDs, c.ID)
	}
	cred, err := s.wa.ValidateLogin(wu, sd, parsed)
	if err != nil {
		return fmt.Errorf("verify passkey: %w", lanyard.ErrBadCredentials)
	}
	return s.used(ctx, wu, cred, by)
}

// start keeps the ceremony's session data in a flow and answers the challenge, which
// is the flow's token (32 random bytes).
func (s *Service) start(ctx context.Context, kind lanyard.FlowKind, userID lanyard.ID, sd *webauthn.SessionData) (protocol.URLEncodedBase64, error) {
	kept := *sd
	kept.Challenge = ""
	b, err := json.Marshal(kept)
	if err != nil {
		return nil, err
	}
	tok, err := s.flows.Start(ctx, kind, userID, map[string]string{"session": string(b)}, CeremonyTTL)
	if err != nil {
		return nil, err
	}
	return base64.RawURLEncoding.DecodeString(string(tok))
}

// take spends the flow whose token is challenge and answers it with its session data.
func (s *Service) take(ctx context.Context, kind lanyard.FlowKind, challenge string) (lanyard.Flow, webauthn.SessionData, error) {
	f, err := s.flows.Take(ctx, kind, challenge)
	if err != nil {
		return lanyard.Flow{}, webauthn.SessionData{}, err
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal([]byte(f.Payload["session"]), &sd); err != nil {
		return lanyard.Flow{}, webauthn.SessionData{}, fmt.Errorf("ceremony state: %w", err)
	}
	sd.Challenge = challenge
	return f, sd, nil
}

// audit records an event about a passkey. It is best-effort: the change itself has
// happened, and failing the request now would invite a retry.
func (s *Service) audit(ctx context.Context, userID lanyard.ID, typ string, p lanyard.Passkey, by Actor) {
	detail := map[string]string{"passkey_id": p.ID.Hex(), "name": p.Name}
	_ = s.st.InsertAudit(ctx, &lanyard.AuditEvent{UserID: userID, Type: typ, IP: by.IP, UserAgent: by.UserAgent, Detail: detail}, s.now())
}

// checkName is a passkey's name as kept (trimmed; "Passkey" when empty), or why not.
func checkName(name string) (string, string) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "Passkey", ""
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxName:
		return "", fmt.Sprintf("must be at most %d characters", maxName)
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }):
		return "", "must not contain control or formatting characters"
	}
	return name, ""
}

func invalidBody(msg string) error {
	bad := &lanyard.InvalidError{}
	bad.Add("body", msg)
	return bad
}

func tooMany() error {
	return &lanyard.ConflictError{Message: fmt.Sprintf("the account already holds %d passkeys; remove one first", MaxPerUser)}
}

// waUser is an account as the WebAuthn library sees it.
type waUser struct {
	u      lanyard.User
	handle []byte
	keys   []lanyard.Passkey
	creds  []webauthn.Credential
}

func (s *Service) user(u lanyard.User, keys []lanyard.Passkey) *waUser {
	wu := &waUser{u: u, handle: s.Handle(u.ID), keys: keys}
	for _, k := range keys {
		wu.creds = append(wu.creds, credential(k))
	}
	return wu
}

func (w *waUser) WebAuthnID() []byte { return w.handle }

// WebAuthnName is what authenticators show to pick the account: its email.
func (w *waUser) WebAuthnName() string { return w.u.Email }

func (w *waUser) WebAuthnDisplayName() string {
	if n := strings.TrimSpace(w.u.FirstName + " " + w.u.LastName); n != "" {
		return n
	}
	if w.u.Username != "" {
		return w.u.Username
	}
	return w.u.Email
}

func (w *waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

func (w *waUser) passkey(credentialID []byte) *lanyard.Passkey {
	for i := range w.keys {
		if string(w.keys[i].CredentialID) == string(credentialID) {
			return &w.keys[i]
		}
	}
	return nil
}

// credential is a stored passkey as the library's credential record.
func credential(p lanyard.Passkey) webauthn.Credential {
	c := webauthn.Credential{
		ID: p.CredentialID, PublicKey: p.PublicKey, AttestationFormat: p.AttestationFormat,
		Flags: webauthn.CredentialFlags{
			UserPresent: true, UserVerified: p.UserVerified, BackupEligible: p.BackupEligible, BackupState: p.BackupState,
		},
		Authenticator: webauthn.Authenticator{AAGUID: p.AAGUID, SignCount: p.SignCount},
	}
	for _, t := range p.Transports {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
	}
	return c
}
