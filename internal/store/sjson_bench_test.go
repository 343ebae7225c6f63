package store

import "testing"

var benchRow = []byte(`{"$s":{"p":{"_id":{"t":"objectId"},"email":{"t":"string"},"username":{"t":"string"},"password_hash":{"t":"string"},"role":{"t":"string"},"status":{"t":"string"},"token_version":{"t":"long"},"linked":{"t":"array","i":[{"t":"objectId"},{"t":"objectId"}]},"created_at":{"t":"date"},"updated_at":{"t":"date"},"enc":{"t":"binData","s":0}},"$k":["_id","email","username","password_hash","role","status","token_version","linked","created_at","updated_at","enc"]},"_id":"6b0ef58c6cb5303978c06f74","email":"user001@example.com","username":"user001","password_hash":"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g","role":"user","status":"active","token_version":0,"linked":["6b0ef58c6cb5303978c06f75","6b0ef58c6cb5303978c06f76"],"created_at":1764576245123,"updated_at":1764576245123,"enc":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}`)

// BenchmarkDecodeSJSON_User decodes one user row as the embedded store keeps it.
//
//	go test ./internal/store -run '^$' -bench DecodeSJSON
func BenchmarkDecodeSJSON_User(b *testing.B) {
	var dec sjsonDecoder
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dec.decode(benchRow); err != nil {
			b.Fatal(err)
		}
	}
}
