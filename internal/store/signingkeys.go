package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// collSigningKeys holds the access tokens' signing keys, shared by every instance.
// A key's _id is its place in the sequence of keys (1, 2, …), so that the first key
// and every rotation are claims: of two instances starting at once, or two
// rotations at once, exactly one adds the key of that place.
const collSigningKeys = "signing_keys"

// SigningKey is one signing key as stored: the private key only sealed, by the
// caller (internal/keyring), which alone holds the key that opens it.
type SigningKey struct {
	Seq       int64  // its place: 1 for the first key, one more for each rotation
	KID       string // kid
	CreatedAt time.Time
	SignsFrom time.Time
	Sealed    []byte // the private key's seed, encrypted
}

// signingKeyDoc is a SigningKey as stored.
type signingKeyDoc struct {
	Seq       int64     `bson:"_id"`
	KID       string    `bson:"kid"`
	CreatedAt time.Time `bson:"created_at"`
	SignsFrom time.Time `bson:"signs_from"`
	Sealed    []byte    `bson:"private_enc"`
}

// AddSigningKey claims k's place in the sequence of keys: ErrDuplicate when another
// key holds it (another instance added the first key, or rotated, at the same time).
func (s *Store) AddSigningKey(ctx context.Context, k SigningKey) error {
	return s.claim(ctx, "add signing key", collSigningKeys, signingKeyDoc{
		Seq: k.Seq, KID: k.KID, CreatedAt: Millis(k.CreatedAt), SignsFrom: Millis(k.SignsFrom), Sealed: k.Sealed,
	})
}

// SigningKeys lists every signing key, in their sequence. There are a handful (one
// more per rotation), so reading the whole collection is what it costs anywhere.
func (s *Store) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	cur, err := s.db.Collection(collSigningKeys).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, s.translate("signing keys", err)
	}
	var docs []signingKeyDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, s.translate("signing keys", err)
	}
	out := make([]SigningKey, len(docs))
	for i, d := range docs {
		out[i] = SigningKey{Seq: d.Seq, KID: d.KID, CreatedAt: d.CreatedAt.UTC(), SignsFrom: d.SignsFrom.UTC(), Sealed: d.Sealed}
	}
	return out, nil
}
