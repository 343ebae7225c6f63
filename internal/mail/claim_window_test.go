package mail_test

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/mail"
)

// A sender that died between winning its claim and recording the attempt on the mail
// leaves the mail due and the claim held: no other instance makes that attempt until
// the claim's time has passed, and then one does.
func TestOutbox_AClaimWhoseSenderDiedBeforeRecordingItHoldsUntilItsTime(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mb := lanyardtest.NewMailbox(t)
	ob := f.outbox(t, smtpOf(mb, mail.NoTLS), "")
	if err := ob.Queue(context.Background(), resetMail("ada@example.com")); err != nil {
		t.Fatal(err)
	}
	var m struct {
		ID bson.ObjectID `bson:"_id"`
	}
	if !lanyardtest.RawDoc(t, f.st.Raw(), "mail_outbox", bson.D{}, &m) {
		t.Fatal("no mail queued")
	}
	now := f.clock.Now()
	_, err := f.st.Raw().Collection("mail_claims").InsertOne(context.Background(), bson.D{
		{Key: "_id", Value: m.ID.Hex() + ":1"}, {Key: "until", Value: now.Add(mail.Lease)}, {Key: "expires_at", Value: now.Add(48 * mail.Lease)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := sendDue(t, ob); n != 0 || mb.Count() != 0 {
		t.Fatalf("SendDue while the dead sender's claim holds = %d; want 0", n)
	}
	f.clock.Advance(mail.Lease)
	if n := sendDue(t, ob); n != 1 {
		t.Fatalf("SendDue once the claim's time has passed = %d; want 1", n)
	}
	mb.WaitFor(t, "ada@example.com")
}
