"""Verify a Lanyard access token as a Python service would: Debian's python3-jwt
(PyJWT) with nothing but the JWK Set.

    python3 verify_jwks.py <jwks url> <token> <issuer> <audience>

Prints the token's sub and exits 0 when it verifies; otherwise prints why on stderr
and exits 1. Run by TestAccessToken_VerifiesInPythonWithPyJWKClient.
"""
import sys

import jwt


def main(jwks_url, token, issuer, audience):
    if jwt.get_unverified_header(token).get("typ") != "at+jwt":
        raise jwt.InvalidTokenError("header typ is not at+jwt")
    key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["EdDSA"],
        audience=audience,
        issuer=issuer,
        options={"require": ["exp", "iat", "sub"]},
    )
    print(claims["sub"])


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit("usage: verify_jwks.py <jwks url> <token> <issuer> <audience>")
    try:
        main(*sys.argv[1:])
    except jwt.PyJWTError as e:
        sys.exit(f"not verified: {type(e).__name__}: {e}")
