package httpapi

// apiDescription is the OpenAPI description: the choices the contract leaves open.
const apiDescription = `Lanyard is an account service: registration, login, sessions and profiles on MongoDB.

Choices worth knowing:
- Errors are RFC 9457 problem documents. They never echo submitted values, and a 500 carries only the request id.
- Validation of registration and profile fields reports every failing field at once (422). Type errors
  (an object where a string belongs) and unknown fields are also 422; a body that is not exactly one JSON value
  (trailing data, duplicate keys, nesting deeper than 32) is 400; bodies over 64 KiB are 413.
- Login answers 401 with one identical body for an unknown account, a wrong password and an account being deleted,
  after the same amount of password hashing.
- Logout ends the session: its refresh token and its access tokens stop working at once. Logout with all=true and
  password change invalidate every access token at once.
- Presenting any refresh token a session already spent ends the session (its refresh and access tokens), except the
  token spent last presented again within LANYARD_REFRESH_REUSE_GRACE (default 10s) while its successor is unspent:
  that answers 200 with the same successor. A secret the session never issued is 401 and ends nothing.
- An account holds at most 100 live sessions; a login beyond that ends the least recently used one.
- A wrong current_password on PATCH /api/users/me or PUT /api/users/me/password is 422 on body.current_password,
  not 401: the access token is fine.
- Admin status is read from the database on every request, so promotion and demotion take effect immediately.`
