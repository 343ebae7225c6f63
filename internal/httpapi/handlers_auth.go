package httpapi

import (
	"context"
	"strings"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/account"
)

type registerInput struct {
	Body struct {
		Email     string  `json:"email,omitempty" doc:"Required. Trimmed, fullwidth forms mapped to ASCII, lower-cased, Unicode NFC; at most 254 characters; no invisible or formatting characters; before the @, plain letters of one script, digits and accents (no spaces, symbols, or styled, circled, small-capital or phonetic letter forms)." maxLength:"1024"`
		Password  string  `json:"password,omitempty" doc:"Required. 8-128 characters and hard to guess: its zxcvbn score, with the account's email, username and names as context, must reach LANYARD_PASSWORD_MIN_SCORE (default 3)." maxLength:"1024"`
		Username  *string `json:"username,omitempty" doc:"Prepared with PRECIS UsernameCasePreserved (RFC 8265: fullwidth mapped, NFC), then 3-32 of letters, digits, '_', '.', '-', starting with a letter or digit; unique as UsernameCaseMapped (case-insensitively)." maxLength:"1024"`
		FirstName *string `json:"first_name,omitempty" doc:"1-100 characters, no control, invisible or formatting characters (PRECIS FreeformClass)." maxLength:"1024"`
		LastName  *string `json:"last_name,omitempty" doc:"1-100 characters, no control, invisible or formatting characters (PRECIS FreeformClass)." maxLength:"1024"`
		Contact   *string `json:"contact,omitempty" doc:"Phone number: digits with an optional leading '+', spaces, dashes, parentheses; stored as '+' and 7-15 digits." maxLength:"1024"`
		Birthday  *string `json:"birthday,omitempty" doc:"YYYY-MM-DD, a real date, not in the future, not before 1900-01-01." maxLength:"1024"`
	}
}

type userCreated struct {
	Location string `header:"Location"`
	Body     User
}

func (s *Server) register(ctx context.Context, in *registerInput) (*userCreated, error) {
	b := in.Body
	u, err := s.accounts.Register(ctx, account.Registration{
		Email: b.Email, Password: b.Password, Username: b.Username,
		FirstName: b.FirstName, LastName: b.LastName, Contact: b.Contact, Birthday: b.Birthday,
		ClientAddr: clientOf(ctx).IP,
	})
	if err != nil {
		return nil, err
	}
	return &userCreated{Location: "/api/users/" + u.ID.Hex(), Body: renderUser(u)}, nil
}

type loginInput struct {
	Body struct {
		Login     string `json:"login,omitempty" doc:"Email or username." maxLength:"1024"`
		Email     string `json:"email,omitempty" maxLength:"1024"`
		Username  string `json:"username,omitempty" doc:"Email or username (the OAuth2 password form's field)." maxLength:"1024"`
		Password  string `json:"password,omitempty" doc:"Required." maxLength:"1024"`
		GrantType string `json:"grant_type,omitempty" enum:"password" doc:"OAuth2 password grant; optional."`
		Scope     string `json:"scope,omitempty" doc:"Accepted for OAuth2 clients and ignored." maxLength:"1024"`
		ClientID  string `json:"client_id,omitempty" doc:"Accepted for OAuth2 clients and ignored." maxLength:"1024"`
	}
}

func (s *Server) login(ctx context.Context, in *loginInput) (*loginOutput, error) {
	b := in.Body
	var given []string
	for _, v := range []string{b.Login, b.Email, b.Username} {
		if strings.TrimSpace(v) != "" {
			given = append(given, v)
		}
	}
	bad := &lanyard.InvalidError{}
	switch {
	case len(given) == 0:
		bad.Add("login", "is required: give one of login, email or username")
	case len(given) > 1:
		bad.Add("login", "give only one of login, email or username")
	}
	if b.Password == "" {
		bad.Add("password", "is required")
	}
	if err := bad.Err(); err != nil {
		return nil, err
	}
	c := clientOf(ctx)
	proof, err := s.password.Prove(ctx, given[0], b.Password, c.IP)
	if err != nil {
		return nil, err
	}
	return s.loginAnswer(ctx, proof, c) // handlers_mfa.go: a session, or mfa_required
}

type refreshInput struct {
	Body struct {
		RefreshToken string `json:"refresh_token" maxLength:"1024"`
	}
}

func (s *Server) refresh(ctx context.Context, in *refreshInput) (*tokenOutput, error) {
	pair, err := s.sessions.Refresh(ctx, in.Body.RefreshToken, clientOf(ctx))
	if err != nil {
		return nil, err
	}
	return renderPair(pair), nil
}

type logoutInput struct {
	Body *struct {
		All bool `json:"all,omitempty" doc:"End every session of the user and invalidate every access token issued before."`
	}
}

func (s *Server) logout(ctx context.Context, in *logoutInput) (*struct{}, error) {
	all := in.Body != nil && in.Body.All
	return nil, s.sessions.Logout(ctx, principal(ctx), all)
}
