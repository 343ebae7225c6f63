package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lanyard/lanyard"
)

// collClients holds service clients, by client id: authenticating one is a lookup by
// _id, the one the embedded store answers without a scan.
const collClients = "clients"

// clientDoc is a lanyard.Client as stored.
type clientDoc struct {
	ID         string    `bson:"_id"`
	Name       string    `bson:"name"`
	SecretHash []byte    `bson:"secret_hash"`
	CreatedAt  time.Time `bson:"created_at"`
}

func (d clientDoc) client() lanyard.Client {
	return lanyard.Client{ID: d.ID, Name: d.Name, SecretHash: d.SecretHash, CreatedAt: d.CreatedAt}
}

// InsertClient stores a new client. Its id is made of fresh random bytes
// (internal/client): a duplicate is ErrDuplicate, which no caller should ever see.
func (s *Store) InsertClient(ctx context.Context, c lanyard.Client) error {
	d := clientDoc{ID: c.ID, Name: c.Name, SecretHash: c.SecretHash, CreatedAt: Millis(c.CreatedAt)}
	_, err := s.keyed(collClients).InsertOne(ctx, d)
	return s.translate("insert client", err)
}

// ClientByID loads a client: lanyard.ErrNotFound when there is none.
func (s *Store) ClientByID(ctx context.Context, id string) (lanyard.Client, error) {
	var d clientDoc
	if err := s.db.Collection(collClients).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		return lanyard.Client{}, s.translate("client by id", err)
	}
	return d.client(), nil
}

// Clients lists every client by id. It reads the whole collection, which holds one
// document per application service and is listed only by `lanyard clients list`.
func (s *Store) Clients(ctx context.Context) ([]lanyard.Client, error) {
	cur, err := s.db.Collection(collClients).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, s.translate("list clients", err)
	}
	var docs []clientDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, s.translate("list clients", err)
	}
	out := make([]lanyard.Client, len(docs))
	for i, d := range docs {
		out[i] = d.client()
	}
	return out, nil
}

// DeleteClient deletes a client: lanyard.ErrNotFound when there is none.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	deleted, err := s.take(ctx, "delete client", collClients, id)
	if err != nil {
		return err
	}
	if !deleted {
		return fmt.Errorf("delete client: %w", lanyard.ErrNotFound)
	}
	return nil
}
