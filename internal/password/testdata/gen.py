#!/usr/bin/python3
"""Writes vectors.json: password hashes made by each format's own reference
implementation, which TestVerify_ReferenceVectors verifies in Go.

The hashes are random (fresh salts), so rerunning changes the file; commit what it
writes. Run it with Debian's interpreter and packages (not a pyenv python):

    apt-get install -y python3-passlib python3-django python3-argon2 python3-bcrypt
    cd internal/password/testdata && /usr/bin/python3 gen.py

Every hash is made with its library's default parameters, as an application that
never tuned them would have stored it. The "doc" vectors are copied from the
libraries' documentation and test suites; the script checks each of them with the
library before writing it, so a mistyped one fails here, not in Go.
"""

import json

import argon2
import bcrypt
import django
import passlib
from django.conf import settings

settings.configure()  # Django's hashers need settings; the defaults are what we want
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password  # noqa: E402
from passlib.hash import argon2 as passlib_argon2  # noqa: E402
from passlib.hash import bcrypt as passlib_bcrypt  # noqa: E402
from passlib.hash import pbkdf2_sha256, pbkdf2_sha512, scrypt  # noqa: E402

PASSWORDS = ["correct horse battery staple", "pässwörd ☃ 密码"]

vectors = []


def add(fmt, source, password, hashed, check):
    if isinstance(hashed, bytes):
        hashed = hashed.decode("ascii")
    assert check(password, hashed), (fmt, source)
    assert not check(password + "x", hashed), (fmt, source)
    vectors.append({"format": fmt, "source": source, "password": password, "hash": hashed})


def _argon2_verify(ph, p, h):
    try:
        return ph.verify(h, p)
    except argon2.exceptions.VerifyMismatchError:
        return False


ASCII, OTHER = PASSWORDS
# bcrypt: the pyca library (what passlib uses as its backend), and passlib's other
# idents; passlib's default cost is 12, pyca's too. The slow formats get one
# vector each, the cheap ones both passwords.
add("bcrypt", "python3-bcrypt %s gensalt()" % bcrypt.__version__, ASCII,
    bcrypt.hashpw(ASCII.encode(), bcrypt.gensalt()),
    lambda p, h: bcrypt.checkpw(p.encode(), h.encode()))
add("bcrypt", "passlib %s bcrypt ident=2a" % passlib.__version__, OTHER,
    passlib_bcrypt.using(ident="2a").hash(OTHER), passlib_bcrypt.verify)
add("bcrypt", "passlib %s bcrypt ident=2y" % passlib.__version__, ASCII,
    passlib_bcrypt.using(ident="2y").hash(ASCII), passlib_bcrypt.verify)
# argon2: argon2-cffi's PasswordHasher (argon2id) and passlib's argon2i.
ph = argon2.PasswordHasher()
add("argon2id", "python3-argon2 %s PasswordHasher()" % argon2.__version__, OTHER, ph.hash(OTHER),
    lambda p, h: _argon2_verify(ph, p, h))
add("argon2i", "passlib %s argon2 type=I" % passlib.__version__, ASCII,
    passlib_argon2.using(type="I").hash(ASCII), passlib_argon2.verify)
add("scrypt", "passlib %s scrypt" % passlib.__version__, OTHER, scrypt.hash(OTHER), scrypt.verify)
for pw in PASSWORDS:
    add("pbkdf2-sha256", "passlib %s pbkdf2_sha256" % passlib.__version__, pw,
        pbkdf2_sha256.hash(pw), pbkdf2_sha256.verify)
    add("pbkdf2-sha512", "passlib %s pbkdf2_sha512" % passlib.__version__, pw,
        pbkdf2_sha512.hash(pw), pbkdf2_sha512.verify)
    add("django-pbkdf2-sha256", "django %s make_password" % django.__version__, pw,
        make_password(pw, hasher="pbkdf2_sha256"), lambda p, h: PBKDF2PasswordHasher().verify(p, h))


# Published vectors.
add("pbkdf2-sha256", "passlib documentation, pbkdf2_digest", "password",
    "$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M", pbkdf2_sha256.verify)
add("pbkdf2-sha256", "passlib documentation, pbkdf2_digest (rounds=8000, salt_size=10)", "password",
    "$pbkdf2-sha256$8000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE", pbkdf2_sha256.verify)
add("pbkdf2-sha256", "passlib documentation, quickstart", "toomanysecrets",
    "$pbkdf2-sha256$29000$N2YMIWQsBWBMae09x1jrPQ$1t8iyB2A.WF/Z5JZv.lfCIhXXN33N23OSgQYThBYRfk", pbkdf2_sha256.verify)
add("scrypt", "passlib documentation, scrypt", "password",
    "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E", scrypt.verify)
add("argon2i", "passlib documentation, argon2", "password",
    "$argon2i$v=19$m=512,t=2,p=2$aI2R0hpDyLm3ltLa+1/rvQ$LqPKjd6n8yniKtAithoR7A", passlib_argon2.verify)
# Django 3.2's own test suite (auth_tests.test_hashers, test_pbkdf2), remade here.
add("django-pbkdf2-sha256", "django %s test suite: make_password('lètmein', 'seasalt')" % django.__version__, "lètmein",
    make_password("lètmein", "seasalt", "pbkdf2_sha256"), lambda p, h: PBKDF2PasswordHasher().verify(p, h))
assert vectors[-1]["hash"] == "pbkdf2_sha256$260000$seasalt$YlZ2Vggtqdc61YjArZuoApoBh9JNGYoDRBUGu6tcJQo="

with open("vectors.json", "w", encoding="utf-8") as f:
    json.dump(vectors, f, ensure_ascii=False, indent=1)
    f.write("\n")
print("wrote %d vectors" % len(vectors))
