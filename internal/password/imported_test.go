package password

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// vector is one hash made by its format's reference implementation
// (testdata/gen.py: passlib, Django, argon2-cffi, pyca bcrypt), or copied from
// their documentation.
type vector struct {
	Format, Source, Password, Hash string
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestVerify_ReferenceVectorsOfEveryImportedFormat(t *testing.T) {
	t.Parallel()
	vs := loadVectors(t)
	formats := map[string]int{}
	for _, v := range vs {
		formats[v.Format]++
	}
	for _, f := range []string{"bcrypt", "argon2id", "argon2i", "pbkdf2-sha256", "pbkdf2-sha512", "django-pbkdf2-sha256", "scrypt"} {
		if formats[f] == 0 {
			t.Errorf("testdata/vectors.json has no %s vector", f)
		}
	}
	// One hash at a time: the argon2 vectors take 100 MiB each.
	h := newCheap(t, Options{Concurrency: 1, MaxWait: time.Minute})
	for _, v := range vs {
		t.Run(v.Format+"/"+v.Source, func(t *testing.T) {
			if err := Check(v.Hash); err != nil {
				t.Errorf("Check(%s) = %v; want nil", v.Hash, err)
			}
			ok, rehash, err := h.Verify(context.Background(), v.Password, v.Hash)
			if !ok || !rehash || err != nil {
				t.Errorf("Verify(%q, %s) = %v, %v, %v; want true, true (an imported hash is replaced), nil", v.Password, v.Hash, ok, rehash, err)
			}
			for _, wrong := range []string{v.Password + "x"} {
				if ok, _, err := h.Verify(context.Background(), wrong, v.Hash); ok || err != nil {
					t.Errorf("Verify(%q, %s) = %v, %v; want false, nil", wrong, v.Hash, ok, err)
				}
			}
		})
	}
}

func TestVerify_ImportedHashOutsideTheLimitsIsMalformedAfterTheDummyHash(t *testing.T) {
	t.Parallel()
	var observed atomic.Int32
	h := newCheap(t, Options{Observe: func(_, _ time.Duration) { observed.Add(1) }})
	const (
		salt16   = "N2YMIWQsBWBMae09x1jrPQ"                                                                 // 16 bytes
		ab32     = "1t8iyB2A.WF/Z5JZv.lfCIhXXN33N23OSgQYThBYRfk"                                            // 32 bytes, ab64
		ab64of64 = "1vC5Ohk2mCS9b6akqsEfgeb4l74SF8XjH.SljXf3dMLHdlY1MK9CdZ2/Lm/TUOQmp9XjuXKqRz0PPkh9N8FRqA" // 64 bytes
		std32    = "YlZ2Vggtqdc61YjArZuoApoBh9JNGYoDRBUGu6tcJQo="                                           // 32 bytes, padded
		scSalt   = "aM15713r3Xsvxbi31lqr1Q"
		scKey    = "nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E"
	)
	tests := []struct{ name, enc string }{
		{"passlib pbkdf2 iterations over 10,000,000", "$pbkdf2-sha256$10000001$" + salt16 + "$" + ab32},
		{"passlib pbkdf2 iterations overflow", "$pbkdf2-sha256$99999999999$" + salt16 + "$" + ab32},
		{"passlib pbkdf2 iterations zero", "$pbkdf2-sha256$0$" + salt16 + "$" + ab32},
		{"passlib pbkdf2 iterations with a leading zero", "$pbkdf2-sha256$029000$" + salt16 + "$" + ab32},
		{"passlib pbkdf2 iterations signed", "$pbkdf2-sha256$+29000$" + salt16 + "$" + ab32},
		{"passlib pbkdf2-sha1", "$pbkdf2-sha1$29000$" + salt16 + "$" + ab32},
		{"passlib pbkdf2 without checksum", "$pbkdf2-sha256$29000$" + salt16},
		{"passlib pbkdf2 extra field", "$pbkdf2-sha256$29000$" + salt16 + "$" + ab32 + "$x"},
		{"passlib pbkdf2 checksum in standard base64", "$pbkdf2-sha256$29000$" + salt16 + "$" + strings.ReplaceAll(ab32, ".", "+")},
		{"passlib pbkdf2-sha256 with a 64-byte checksum", "$pbkdf2-sha256$29000$" + salt16 + "$" + ab64of64},
		{"passlib pbkdf2-sha512 with a 32-byte checksum", "$pbkdf2-sha512$25000$" + salt16 + "$" + ab32},
		{"passlib pbkdf2 salt over 1024 bytes", "$pbkdf2-sha256$29000$" + strings.Repeat("A", 1368) + "$" + ab32},
		{"Django iterations over 10,000,000", "pbkdf2_sha256$10000001$seasalt$" + std32},
		{"Django empty salt", "pbkdf2_sha256$260000$$" + std32},
		{"Django hash unpadded", "pbkdf2_sha256$260000$seasalt$" + strings.TrimSuffix(std32, "=")},
		{"Django hash of 16 bytes", "pbkdf2_sha256$260000$seasalt$" + "AAAAAAAAAAAAAAAAAAAAAA=="},
		{"Django extra field", "pbkdf2_sha256$260000$seasalt$" + std32 + "$x"},
		{"Django pbkdf2_sha1", "pbkdf2_sha1$260000$seasalt$" + std32},
		{"scrypt ln over 20", "$scrypt$ln=21,r=1,p=1$" + scSalt + "$" + scKey},
		{"scrypt ln zero", "$scrypt$ln=0,r=8,p=1$" + scSalt + "$" + scKey},
		{"scrypt r over 32", "$scrypt$ln=4,r=33,p=1$" + scSalt + "$" + scKey},
		{"scrypt p over 16", "$scrypt$ln=4,r=8,p=17$" + scSalt + "$" + scKey},
		{"scrypt memory over 1 GiB", "$scrypt$ln=20,r=16,p=1$" + scSalt + "$" + scKey},
		{"scrypt work over 2^24", "$scrypt$ln=18,r=8,p=16$" + scSalt + "$" + scKey},
		{"scrypt parameters out of order", "$scrypt$r=8,ln=16,p=1$" + scSalt + "$" + scKey},
		{"scrypt key under 16 bytes", "$scrypt$ln=16,r=8,p=1$" + scSalt + "$" + scKey[:20]},
		{"scrypt salt padded", "$scrypt$ln=16,r=8,p=1$" + scSalt + "==$" + scKey},
		{"scrypt $7$ form", "$7$C6..../....SodiumChloride$kBGj9fHznVYFQMEn/qDCfrDevf9YDtcDdKvEqHJLV8D"},
		{"argon2d", "$argon2d$v=19$m=512,t=2,p=2$aI2R0hpDyLm3ltLa+1/rvQ$LqPKjd6n8yniKtAithoR7A"},
		{"argon2i memory over 1 GiB", "$argon2i$v=19$m=1048577,t=2,p=2$aI2R0hpDyLm3ltLa+1/rvQ$LqPKjd6n8yniKtAithoR7A"},
		{"argon2i without version", "$argon2i$m=512,t=2,p=2$aI2R0hpDyLm3ltLa+1/rvQ$LqPKjd6n8yniKtAithoR7A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Check(tt.enc); !errors.Is(err, ErrMalformed) {
				t.Errorf("Check(%q) = %v; want ErrMalformed", tt.enc, err)
			} else if strings.Contains(err.Error(), "$") {
				t.Errorf("Check error %q echoes the hash", err)
			}
			before := observed.Load()
			ok, rehash, err := h.Verify(context.Background(), "password", tt.enc)
			if !errors.Is(err, ErrMalformed) || ok || rehash {
				t.Errorf("Verify(%q) = %v, %v, %v; want false, false, ErrMalformed", tt.enc, ok, rehash, err)
			}
			if n := observed.Load() - before; n != 1 {
				t.Errorf("Verify(%q) ran %d hashes; want 1, the dummy's", tt.enc, n)
			}
		})
	}
}

func TestCheck_AcceptsWhatHashMakesAndRefusesTheUnknown(t *testing.T) {
	t.Parallel()
	h := newCheap(t, Options{})
	if err := Check(mustHash(t, h, "pw")); err != nil {
		t.Errorf("Check(Hash) = %v; want nil", err)
	}
	if err := Check(bcryptHash(t, "pw", "$2b$")); err != nil {
		t.Errorf("Check(bcrypt) = %v; want nil", err)
	}
	for _, enc := range []string{"", "pw", "$1$saltsalt$hash", "sha1$salt$hash", "{SSHA}abc"} {
		if err := Check(enc); !errors.Is(err, ErrMalformed) {
			t.Errorf("Check(%q) = %v; want ErrMalformed", enc, err)
		}
	}
}
