package store

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lanyard/lanyard"
)

// OtherAdminExists reports whether an active admin other than the user id exists. Only
// the rare operations that could remove the last admin ask.
func (s *Store) OtherAdminExists(ctx context.Context, id lanyard.ID) (bool, error) {
	if s.lite != nil {
		found, err := s.lite.otherAdmin(ctx, id)
		return found, s.translate("other admin exists", err)
	}
	filter := bson.D{
		{Key: "role", Value: string(lanyard.RoleAdmin)},
		{Key: "status", Value: string(lanyard.StatusActive)},
		{Key: "_id", Value: bson.D{{Key: "$ne", Value: bson.ObjectID(id)}}},
	}
	err := s.users().FindOne(ctx, filter, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, s.translate("other admin exists", err)
	}
	return true, nil
}
