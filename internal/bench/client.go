package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// client talks to the server under test, and only to it.
type client struct {
	base string
	http *http.Client
}

func newClient(base string, conns int) *client {
	return &client{base: base, http: &http.Client{
		Timeout: time.Minute,
		Transport: &http.Transport{
			Proxy:               nil, // traffic goes to the given URL and nowhere else
			MaxIdleConns:        2 * conns,
			MaxIdleConnsPerHost: 2 * conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}}
}

func (c *client) close() { c.http.CloseIdleConnections() }

// request is one HTTP exchange of a scenario; auth is the whole Authorization value,
// from the simulated client's address (X-Forwarded-For; "" for none).
type request struct {
	method, path, auth, from string
	body                     []byte
}

// send performs r and leaves the answer's body in buf.
func (c *client) send(ctx context.Context, r request, buf *bytes.Buffer) (int, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.base+r.path, body)
	if err != nil {
		return 0, err
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.auth != "" {
		req.Header.Set("Authorization", r.auth)
	}
	if r.from != "" {
		req.Header.Set("X-Forwarded-For", r.from)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(res.Body); err != nil {
		return 0, err
	}
	return res.StatusCode, nil
}

// call is send for set-up work: in is sent as JSON (nil: no body), a 2xx answer is
// decoded into out (nil: ignored), anything else is an error naming the status.
func (c *client) call(ctx context.Context, method, path, token string, in, out any) error {
	r := request{method: method, path: path}
	if token != "" {
		r.auth = "Bearer " + token
	}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		r.body = b
	}
	var buf bytes.Buffer
	status, err := c.send(ctx, r, &buf)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status < 200 || status > 299 {
		return &statusError{method: method, path: path, status: status, body: truncate(buf.String(), 300)}
	}
	if out != nil {
		if err := json.Unmarshal(buf.Bytes(), out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

type statusError struct {
	method, path string
	status       int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.method, e.path, e.status, e.body)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// bearer is the Authorization value for an access token.
func bearer(token string) string { return "Bearer " + token }

// pair is the part of a token pair the bench uses.
type pair struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
	User    struct {
		ID string `json:"id"`
	} `json:"user"`
}
