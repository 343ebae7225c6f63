package method_test

import (
	"context"
	"crypto/rand"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/account"
	"github.com/lanyard/lanyard/internal/flow"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/method"
	"github.com/lanyard/lanyard/internal/password"
)

// totpRig is an account with TOTP on, its secret and recovery codes, and the
// factors' table without a throttle: what these tests race is the factor alone,
// not spaced out by the throttle's counter.
type totpRig struct {
	factors *method.SecondFactors
	totp    *method.TOTP
	clock   *lanyardtest.Clock
	user    lanyard.User
	secret  string
	codes   []string
}

func totpSetup(t *testing.T) *totpRig {
	t.Helper()
	ctx := context.Background()
	st := lanyardtest.OpenStore(t)
	r := &totpRig{clock: lanyardtest.NewClock()}
	key := make([]byte, 32)
	rand.Read(key)
	flows, err := flow.New(st, key, r.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	r.factors = method.NewSecondFactors(st, flows, nil)
	if r.totp, err = method.NewTOTP(method.TOTPOptions{Store: st, DataKey: key, Issuer: "https://accounts.example.com", Factors: r.factors, Now: r.clock.Now}); err != nil {
		t.Fatal(err)
	}
	hasher := password.NewHasher(password.Options{Params: password.Cheap, Concurrency: 4})
	u, err := account.New(st, hasher, r.clock.Now).Register(ctx, account.Registration{Email: "ada@example.com", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	e, err := r.totp.Enrol(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	r.secret = e.Secret
	if r.codes, err = r.totp.Confirm(ctx, u, r.code(0), method.Origin{}); err != nil {
		t.Fatal(err)
	}
	if r.user, err = st.UserByID(ctx, u.ID); err != nil || !r.user.MFA.TOTP {
		t.Fatalf("user after confirming = %+v, %v; want TOTP on", r.user.MFA, err)
	}
	r.clock.Advance(5 * time.Minute) // past the confirmation's step
	return r
}

// code is the secret's code at the clock's time plus offset.
func (r *totpRig) code(offset time.Duration) string {
	c, err := totp.GenerateCode(r.secret, r.clock.Now().Add(offset))
	if err != nil {
		panic(err)
	}
	return c
}

// raceCheck checks one answer with the factor called name in n goroutines at once
// and says how many were accepted; every refusal must be lanyard.ErrBadCredentials.
func raceCheck(t *testing.T, r *totpRig, name, code string, n int) int {
	t.Helper()
	var ok atomic.Int32
	errs := make([]error, n)
	lanyardtest.AtOnce(n, func(i int) {
		amr, err := r.factors.Check(context.Background(), r.user, name, method.Answer{Code: code}, "")
		switch {
		case err == nil && amr == lanyard.AMROTP:
			ok.Add(1)
		case err != nil && !errors.Is(err, lanyard.ErrBadCredentials):
			errs[i] = err
		}
	})
	for _, err := range errs {
		if err != nil {
			t.Errorf("a refused check: %v; want lanyard.ErrBadCredentials", err)
		}
	}
	return int(ok.Load())
}

// TestTOTPCheck_OneCodeCheckedConcurrentlyIsAcceptedOnce: sixteen checks of one code
// at once, with no throttle between them: exactly one is accepted (the claim of its
// time step decides), and the code is refused afterwards.
func TestTOTPCheck_OneCodeCheckedConcurrentlyIsAcceptedOnce(t *testing.T) {
	t.Parallel()
	r := totpSetup(t)
	code := r.code(0)
	if got := raceCheck(t, r, method.MethodTOTP, code, 16); got != 1 {
		t.Errorf("%d of 16 concurrent checks of one TOTP code were accepted; want exactly 1", got)
	}
	if got := raceCheck(t, r, method.MethodTOTP, code, 1); got != 0 {
		t.Error("the code was accepted again afterwards")
	}
}

// TestRecoveryCheck_OneCodeCheckedConcurrentlyIsAcceptedOnce: the same for a
// recovery code.
func TestRecoveryCheck_OneCodeCheckedConcurrentlyIsAcceptedOnce(t *testing.T) {
	t.Parallel()
	r := totpSetup(t)
	if got := raceCheck(t, r, method.MethodRecoveryCode, r.codes[0], 16); got != 1 {
		t.Errorf("%d of 16 concurrent checks of one recovery code were accepted; want exactly 1", got)
	}
	if got := raceCheck(t, r, method.MethodRecoveryCode, r.codes[0], 1); got != 0 {
		t.Error("the recovery code was accepted again afterwards")
	}
	if got := raceCheck(t, r, method.MethodRecoveryCode, r.codes[1], 1); got != 1 {
		t.Error("another recovery code was refused")
	}
}
