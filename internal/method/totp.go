package method

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/subkey"
)

// The names of the TOTP factors in SecondFactors.
const (
	MethodTOTP         = "totp"
	MethodRecoveryCode = "recovery_code"
)

// RFC 6238 as every authenticator app takes it: SHA-1, 6 digits, 30-second steps,
// and one step of drift either side.
const (
	totpPeriod = 30
	totpDrift  = 1
)

var totpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// infoTOTPSecret is the HKDF info of the subkey of LANYARD_DATA_KEY that seals TOTP
// secrets.
const infoTOTPSecret = "lanyard/mfa/totp-secret/v1"

// TOTP is the authenticator-app factor (RFC 6238): enrolment with a confirmation
// code, the check of a code at login, and disabling with a code. The secret is
// sealed with AES-256-GCM under a subkey of the data key, bound to its user, so a
// copy of the database yields no secret and a sealed secret moved to another user
// does not open. A code is accepted at most once: its time step is claimed in the
// store (exactly one of concurrent uses wins) and recorded as the user's last, and
// codes of that step or earlier are refused.
type TOTP struct {
	st       *store.Store
	aead     cipher.AEAD
	issuer   string
	now      func() time.Time
	factors  *SecondFactors
	recovery *Recovery
}

// TOTPOptions are what NewTOTP needs.
type TOTPOptions struct {
	Store   *store.Store
	DataKey []byte // LANYARD_DATA_KEY
	// Issuer names the service in authenticator apps (the otpauth URI's issuer): the
	// host of LANYARD_ISSUER when it is a URL, else LANYARD_ISSUER itself.
	Issuer string
	// Factors is the two-step login's table: NewTOTP adds totp and recovery_code to
	// it, and checks a disabling code through it, as a login attempt.
	Factors *SecondFactors
	Now     func() time.Time // nil: time.Now
}

// NewTOTP returns the TOTP factor and adds it, with its recovery codes, to o.Factors.
func NewTOTP(o TOTPOptions) (*TOTP, error) {
	key, err := subkey.Derive(o.DataKey, infoTOTPSecret)
	if err != nil {
		return nil, fmt.Errorf("totp key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("totp key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("totp key: %w", err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	rec, err := newRecovery(o.Store, o.DataKey, o.Now)
	if err != nil {
		return nil, err
	}
	m := &TOTP{st: o.Store, aead: aead, issuer: issuerLabel(o.Issuer), now: o.Now, factors: o.Factors, recovery: rec}
	o.Factors.Add(MethodTOTP, m)
	o.Factors.Add(MethodRecoveryCode, rec)
	return m, nil
}

// issuerLabel is what authenticator apps show for the service: a URL's host, or the
// issuer as configured.
func issuerLabel(iss string) string {
	if u, err := url.Parse(iss); err == nil && u.Host != "" {
		return u.Host
	}
	if iss == "" {
		return "Lanyard"
	}
	return iss
}

// Enrolled reports whether u has confirmed TOTP.
func (m *TOTP) Enrolled(u lanyard.User) bool { return u.MFA.TOTP }

// Enrolment is a pending TOTP enrolment, shown once: the secret in base32 and the
// otpauth URI that authenticator apps scan.
type Enrolment struct {
	Secret string
	URI    string
}

// Enrol starts (or starts again) u's enrolment: a fresh secret, kept sealed as
// pending until Confirm. While TOTP is on it is lanyard.ErrTOTPEnabled.
func (m *TOTP) Enrol(ctx context.Context, u lanyard.User) (Enrolment, error) {
	_, t, err := m.st.UserTOTP(ctx, u.ID)
	if err != nil {
		return Enrolment{}, fmt.Errorf("totp enrol: %w", err)
	}
	if len(t.Secret) > 0 {
		return Enrolment{}, fmt.Errorf("totp enrol: %w", lanyard.ErrTOTPEnabled)
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: m.issuer, AccountName: accountLabel(u), Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return Enrolment{}, fmt.Errorf("totp enrol: %w", err)
	}
	if err := m.st.SetTOTPPending(ctx, u.ID, m.seal(u.ID, key.Secret())); err != nil {
		return Enrolment{}, fmt.Errorf("totp enrol: %w", err)
	}
	return Enrolment{Secret: key.Secret(), URI: key.URL()}, nil
}

// accountLabel is the account as authenticator apps show it.
func accountLabel(u lanyard.User) string {
	if u.Email != "" {
		return u.Email
	}
	return u.ID.Hex()
}

// Confirm turns u's pending enrolment on with a code of its secret and returns the
// ten recovery codes, in clear this once (only their keyed hashes are kept). The
// code is then spent: it does not log in. Without a pending enrolment it is
// lanyard.ErrNotFound (lanyard.ErrTOTPEnabled once TOTP is on); a wrong code is a
// *lanyard.InvalidError on code and changes nothing.
func (m *TOTP) Confirm(ctx context.Context, u lanyard.User, code string, by Origin) ([]string, error) {
	_, t, err := m.st.UserTOTP(ctx, u.ID)
	switch {
	case err != nil:
		return nil, fmt.Errorf("totp confirm: %w", err)
	case len(t.Secret) > 0:
		return nil, fmt.Errorf("totp confirm: %w", lanyard.ErrTOTPEnabled)
	case len(t.Pending) == 0:
		return nil, fmt.Errorf("totp confirm: no enrolment is pending: %w", lanyard.ErrNotFound)
	}
	secret, err := m.open(u.ID, t.Pending)
	if err != nil {
		return nil, fmt.Errorf("totp confirm: %w", err)
	}
	step, ok := m.match(secret, code, 0)
	if ok {
		ok, err = m.claim(ctx, u.ID, step)
		if err != nil {
			return nil, fmt.Errorf("totp confirm: %w", err)
		}
	}
	if !ok {
		bad := &lanyard.InvalidError{}
		bad.Add("code", "is not the authenticator's current code for this secret")
		return nil, bad
	}
	codes, hashes := m.recovery.generate(u.ID)
	if err := m.st.EnableTOTP(ctx, u.ID, lanyard.TOTP{Secret: t.Pending, LastStep: step, Recovery: hashes}, m.now()); err != nil {
		return nil, fmt.Errorf("totp confirm: %w", err)
	}
	m.audit(ctx, u.ID, "mfa.totp_enabled", nil, by)
	return codes, nil
}

// Disable turns u's TOTP off — secret, recovery codes and any pending enrolment —
// given a TOTP or a recovery code, checked as a login attempt from by.IP (a wrong
// one counts as a failed login). TOTP off is lanyard.ErrNotFound; a wrong code a
// *lanyard.InvalidError on code; past the limit, a *lanyard.ThrottledError.
func (m *TOTP) Disable(ctx context.Context, u lanyard.User, code string, by Origin) error {
	if !u.MFA.TOTP {
		return fmt.Errorf("totp disable: %w", lanyard.ErrNotFound)
	}
	name := MethodRecoveryCode
	if isTOTPCode(code) {
		name = MethodTOTP
	}
	if _, err := m.factors.Check(ctx, u, name, Answer{Code: code}, by.IP); err != nil {
		if errors.Is(err, lanyard.ErrBadCredentials) {
			bad := &lanyard.InvalidError{}
			bad.Add("code", "is not a valid TOTP or recovery code")
			return bad
		}
		return fmt.Errorf("totp disable: %w", err)
	}
	if err := m.st.DisableTOTP(ctx, u.ID, m.now()); err != nil {
		return fmt.Errorf("totp disable: %w", err)
	}
	m.audit(ctx, u.ID, "mfa.totp_disabled", map[string]string{"with": name}, by)
	return nil
}

// Check accepts a code of u's secret at the current step or one step either side,
// once: the step is claimed and becomes u's last accepted one.
func (m *TOTP) Check(ctx context.Context, u lanyard.User, a Answer) (string, error) {
	_, t, err := m.st.UserTOTP(ctx, u.ID)
	if err != nil {
		return "", fmt.Errorf("totp: %w", err)
	}
	if len(t.Secret) == 0 {
		return "", fmt.Errorf("totp: %w", lanyard.ErrBadCredentials)
	}
	secret, err := m.open(u.ID, t.Secret)
	if err != nil {
		return "", fmt.Errorf("totp: %w", err)
	}
	step, ok := m.match(secret, a.Code, t.LastStep)
	if !ok {
		return "", fmt.Errorf("totp: %w", lanyard.ErrBadCredentials)
	}
	won, err := m.claim(ctx, u.ID, step)
	if err != nil {
		return "", fmt.Errorf("totp: %w", err)
	}
	if !won {
		return "", fmt.Errorf("totp: code used already: %w", lanyard.ErrBadCredentials)
	}
	if err := m.st.AcceptTOTPStep(ctx, u.ID, step); err != nil {
		return "", fmt.Errorf("totp: %w", err)
	}
	return lanyard.AMROTP, nil
}

// match finds the time step, within the drift of now and after last, whose code is
// code.
func (m *TOTP) match(secret, code string, last int64) (int64, bool) {
	code = strings.ReplaceAll(code, " ", "")
	if !isTOTPCode(code) {
		return 0, false
	}
	now := m.now().Unix() / totpPeriod
	for d := int64(-totpDrift); d <= totpDrift; d++ {
		step := now + d
		if step <= last || step < 0 {
			continue
		}
		if ok, err := hotp.ValidateCustom(code, uint64(step), secret, totpOpts); err == nil && ok {
			return step, true
		}
	}
	return 0, false
}

// isTOTPCode reports whether code has a TOTP's form: six digits (spaces allowed, as
// apps show them in groups).
func isTOTPCode(code string) bool {
	code = strings.ReplaceAll(code, " ", "")
	if len(code) != 6 {
		return false
	}
	_, err := strconv.ParseUint(code, 10, 32)
	return err == nil
}

// claim claims u's step: false when it was claimed already. The claim lasts while
// the step can still be accepted; after that the last accepted step refuses it.
func (m *TOTP) claim(ctx context.Context, userID lanyard.ID, step int64) (bool, error) {
	until := time.Unix((step+totpDrift+1)*totpPeriod, 0).Add(totpPeriod * time.Second)
	err := m.st.ClaimOTP(ctx, userID.Hex()+":totp:"+strconv.FormatInt(step, 10), until)
	if errors.Is(err, store.ErrDuplicate) {
		return false, nil
	}
	return err == nil, err
}

// seal encrypts a secret for user id with a fresh nonce.
func (m *TOTP) seal(id lanyard.ID, secret string) []byte {
	nonce := make([]byte, m.aead.NonceSize())
	rand.Read(nonce)
	return m.aead.Seal(nonce, nonce, []byte(secret), totpAAD(id))
}

// open decrypts what seal produced for the same user.
func (m *TOTP) open(id lanyard.ID, sealed []byte) (string, error) {
	n := m.aead.NonceSize()
	if len(sealed) < n+m.aead.Overhead() {
		return "", errors.New("totp secret: too short")
	}
	plain, err := m.aead.Open(nil, sealed[:n], sealed[n:], totpAAD(id))
	if err != nil {
		return "", errors.New("totp secret: does not open with this data key and user")
	}
	return string(plain), nil
}

func totpAAD(id lanyard.ID) []byte { return []byte("totp\x00" + id.Hex()) }

// Origin is where a signed-in request came from, for the throttle and the audit
// trail.
type Origin struct {
	IP        string
	UserAgent string
}

// audit records an enrolment or a removal. It is best-effort, as linked IDs' are:
// the change has happened, and failing the request now would invite a retry.
func (m *TOTP) audit(ctx context.Context, userID lanyard.ID, typ string, detail map[string]string, by Origin) {
	_ = m.st.InsertAudit(ctx, &lanyard.AuditEvent{UserID: userID, Type: typ, IP: by.IP, UserAgent: by.UserAgent, Detail: detail}, m.now())
}
