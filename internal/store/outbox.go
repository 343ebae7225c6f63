package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lanyard/lanyard"
)

// The outbox: mails recorded before the request that causes them is answered, and
// sent by whichever instance claims them first (internal/mail).
const (
	collOutbox     = "mail_outbox"
	collMailClaims = "mail_claims"
)

// OutboxMail is a rendered mail waiting to be sent, or one that was given up on.
type OutboxMail struct {
	ID        lanyard.ID
	Kind      string
	To        string
	MessageID string // the Message-ID header, fixed when the mail was queued
	Subject   string
	Text      string
	HTML      string
	CreatedAt time.Time
	// Attempts counts the claims of the mail so far: each claim is one try at
	// sending it, whether or not its sender lived to record the outcome.
	Attempts      int
	NextAttemptAt time.Time // the zero time: failed, never tried again
	FailedAt      time.Time
	LastError     string // the last failure, without the recipient's address
}

// outboxDoc is an OutboxMail as stored. A failed mail has no next_attempt_at, so the
// query for due mails never finds it, and no body: what is kept is what is counted.
type outboxDoc struct {
	ID            bson.ObjectID `bson:"_id"`
	Kind          string        `bson:"kind"`
	To            string        `bson:"to,omitempty"`
	MessageID     string        `bson:"message_id,omitempty"`
	Subject       string        `bson:"subject,omitempty"`
	Text          string        `bson:"text,omitempty"`
	HTML          string        `bson:"html,omitempty"`
	CreatedAt     time.Time     `bson:"created_at"`
	Attempts      int           `bson:"attempts"`
	NextAttemptAt *time.Time    `bson:"next_attempt_at,omitempty"`
	FailedAt      *time.Time    `bson:"failed_at,omitempty"`
	LastError     string        `bson:"last_error,omitempty"`
}

func (d outboxDoc) mail() OutboxMail {
	m := OutboxMail{
		ID: lanyard.ID(d.ID), Kind: d.Kind, To: d.To, MessageID: d.MessageID, Subject: d.Subject, Text: d.Text, HTML: d.HTML,
		CreatedAt: d.CreatedAt, Attempts: d.Attempts, LastError: d.LastError,
	}
	if d.NextAttemptAt != nil {
		m.NextAttemptAt = *d.NextAttemptAt
	}
	if d.FailedAt != nil {
		m.FailedAt = *d.FailedAt
	}
	return m
}

// mailClaimDoc is one try at sending a mail: its _id is the mail's id and the
// attempt's number, so of the instances claiming a mail at once exactly one wins
// that attempt. Until is when its holder is presumed dead; expires_at, far beyond
// any retry, only lets the sweep reclaim claims a crash left behind.
type mailClaimDoc struct {
	ID        string    `bson:"_id"`
	Until     time.Time `bson:"until"`
	ExpiresAt time.Time `bson:"expires_at"`
}

// mailClaimKeep is how long a claim is kept: longer than a mail is retried, so that a
// claim is never swept while its mail may still be claimed again.
const mailClaimKeep = 48 * time.Hour

func mailClaimID(id lanyard.ID, attempt int) string { return id.Hex() + ":" + strconv.Itoa(attempt) }

// InsertMail records a mail due at m.NextAttemptAt.
func (s *Store) InsertMail(ctx context.Context, m OutboxMail) error {
	next := Millis(m.NextAttemptAt)
	_, err := s.keyed(collOutbox).InsertOne(ctx, outboxDoc{
		ID: bson.ObjectID(m.ID), Kind: m.Kind, To: m.To, MessageID: m.MessageID, Subject: m.Subject, Text: m.Text, HTML: m.HTML,
		CreatedAt: Millis(m.CreatedAt), NextAttemptAt: &next,
	})
	return s.translate("insert mail", err)
}

// MailByID loads one mail of the outbox: lanyard.ErrNotFound when there is none (it
// was sent).
func (s *Store) MailByID(ctx context.Context, id lanyard.ID) (OutboxMail, error) {
	var d outboxDoc
	if err := s.db.Collection(collOutbox).FindOne(ctx, byID(id)).Decode(&d); err != nil {
		return OutboxMail{}, s.translate("mail by id", err)
	}
	return d.mail(), nil
}

// DueMails returns at most limit mails whose next attempt is at or before now, the
// earliest first. On the embedded SQLite store they are found through the index on
// next_attempt_at; a failed mail has none and is never due.
func (s *Store) DueMails(ctx context.Context, now time.Time, limit int) ([]OutboxMail, error) {
	now = Millis(now)
	var docs []outboxDoc
	if s.lite != nil {
		rows, err := s.lite.docs(ctx, collOutbox, func(table string) (string, []any) { return dueStmt(table, now, limit) })
		if err != nil {
			return nil, s.translate("due mails", err)
		}
		for _, row := range rows {
			var d outboxDoc
			raw, err := s.lite.decode(row)
			if err == nil {
				err = bson.Unmarshal(raw, &d)
			}
			if err != nil {
				return nil, s.translate("decode mail", err)
			}
			docs = append(docs, d)
		}
	} else {
		o := options.Find().SetSort(bson.D{{Key: "next_attempt_at", Value: 1}}).SetLimit(int64(limit))
		cur, err := s.db.Collection(collOutbox).Find(ctx, bson.D{{Key: "next_attempt_at", Value: bson.D{{Key: "$lte", Value: now}}}}, o)
		if err != nil {
			return nil, s.translate("due mails", err)
		}
		if err := cur.All(ctx, &docs); err != nil {
			return nil, s.translate("due mails", err)
		}
	}
	out := make([]OutboxMail, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.mail())
	}
	return out, nil
}

func dueStmt(table string, now time.Time, limit int) (string, []any) {
	return fmt.Sprintf(`SELECT _ferretdb_sjson FROM %q WHERE %s <= ? AND %s = 'date' ORDER BY %s LIMIT ?`,
		table, valueExpr("next_attempt_at"), typeExpr("next_attempt_at"), valueExpr("next_attempt_at")), []any{now.UnixMilli(), limit}
}

// ClaimMail claims the next attempt at sending m for its caller, until until: the
// insert of mail_claims/<id>:<attempt>, which of any number of instances exactly one
// wins; the others get ErrDuplicate. A claim whose holder's time has passed (it
// crashed before recording the outcome) gives way to the next attempt's, which again
// only one wins. The winner records the attempt on the mail, due again at until, so a
// sender that dies after this leaves a mail that another instance sends later.
func (s *Store) ClaimMail(ctx context.Context, m *OutboxMail, now, until time.Time) error {
	now, until = Millis(now), Millis(until)
	attempt := m.Attempts + 1
	for range 8 {
		err := s.claim(ctx, "claim mail", collMailClaims, mailClaimDoc{ID: mailClaimID(m.ID, attempt), Until: until, ExpiresAt: now.Add(mailClaimKeep)})
		if err == nil {
			break
		}
		if !errors.Is(err, ErrDuplicate) {
			return err
		}
		var held mailClaimDoc
		err = s.db.Collection(collMailClaims).FindOne(ctx, bson.D{{Key: "_id", Value: mailClaimID(m.ID, attempt)}}).Decode(&held)
		if err != nil && !isNotFound(s.translate("claim mail", err)) {
			return s.translate("claim mail", err)
		}
		if err == nil && now.Before(held.Until) {
			return &opError{op: "claim mail", kind: ErrDuplicate}
		}
		attempt++
	}
	// m may have been read before another instance's attempt was recorded: the mail
	// as it is now says whether it is still due (it may have been sent, given up on,
	// or put off by a failure). The claim won is this caller's alone, so it can be
	// dropped again.
	cur, err := s.MailByID(ctx, m.ID)
	if err != nil || cur.NextAttemptAt.IsZero() || cur.NextAttemptAt.After(now) {
		_ = s.dropKey(ctx, collMailClaims, mailClaimID(m.ID, attempt))
		if err != nil {
			return err
		}
		return &opError{op: "claim mail", kind: ErrDuplicate}
	}
	found, err := s.updateByID(ctx, "claim mail", collOutbox, m.ID, bson.D{{Key: "$set", Value: bson.M{
		"attempts": attempt, "next_attempt_at": until,
	}}})
	if err != nil {
		return err
	}
	if !found {
		return &opError{op: "claim mail", kind: errNotFoundKind}
	}
	*m = cur
	m.Attempts, m.NextAttemptAt = attempt, until
	return nil
}

// MailSent deletes a sent mail and its claims.
func (s *Store) MailSent(ctx context.Context, m OutboxMail) error {
	if _, err := s.keyed(collOutbox).DeleteOne(ctx, byID(m.ID)); err != nil {
		return s.translate("delete sent mail", err)
	}
	return s.dropMailClaims(ctx, m)
}

func (s *Store) dropMailClaims(ctx context.Context, m OutboxMail) error {
	ids := make([]any, 0, m.Attempts)
	for a := 1; a <= m.Attempts; a++ {
		ids = append(ids, mailClaimID(m.ID, a))
	}
	_, err := s.DeleteIDs(ctx, collMailClaims, ids) // the sweep gets what this misses
	return err
}

// RetryMail records a failed attempt: the mail is due again at next.
func (s *Store) RetryMail(ctx context.Context, m OutboxMail, next time.Time, lastError string) error {
	_, err := s.updateByID(ctx, "retry mail", collOutbox, m.ID, bson.D{{Key: "$set", Value: bson.M{
		"next_attempt_at": Millis(next), "last_error": lastError,
	}}})
	return err
}

// FailMail gives up on a mail: it is kept, without its body and never due again, so
// that it can be counted and looked into.
func (s *Store) FailMail(ctx context.Context, m OutboxMail, at time.Time, lastError string) error {
	_, err := s.updateByID(ctx, "fail mail", collOutbox, m.ID, bson.D{
		{Key: "$set", Value: bson.M{"failed_at": Millis(at), "last_error": lastError}},
		{Key: "$unset", Value: bson.M{"next_attempt_at": "", "to": "", "subject": "", "text": "", "html": ""}},
	})
	if err != nil {
		return err
	}
	return s.dropMailClaims(ctx, m)
}

// OutboxStats is what the outbox holds: mails waiting to be sent (their number and
// the oldest one's queue time, zero when none waits) and mails given up on.
type OutboxStats struct {
	Queued int64
	Oldest time.Time
	Failed int64
}

// Outbox counts the outbox. It is background work, for the metrics; on the embedded
// SQLite store SQLite counts.
func (s *Store) Outbox(ctx context.Context) (OutboxStats, error) {
	var st OutboxStats
	if s.lite != nil {
		err := s.lite.query(ctx, collOutbox, func(table string) (string, []any) {
			return fmt.Sprintf(`SELECT count(*) FILTER (WHERE %[2]s = 'date'), min(CASE WHEN %[2]s = 'date' THEN %[3]s END), count(*) FILTER (WHERE %[2]s IS NULL) FROM %[1]q`,
				table, typeExpr("next_attempt_at"), valueExpr("created_at")), nil
		}, func(rows *sql.Rows) error {
			var oldest sql.NullInt64
			if err := rows.Scan(&st.Queued, &oldest, &st.Failed); err != nil {
				return err
			}
			if oldest.Valid {
				st.Oldest = time.UnixMilli(oldest.Int64).UTC()
			}
			return nil
		})
		return st, s.translate("count outbox", err)
	}
	c := s.db.Collection(collOutbox)
	queued := bson.D{{Key: "next_attempt_at", Value: bson.D{{Key: "$exists", Value: true}}}}
	var err error
	if st.Queued, err = c.CountDocuments(ctx, queued); err != nil {
		return st, s.translate("count outbox", err)
	}
	if st.Failed, err = c.CountDocuments(ctx, bson.D{{Key: "next_attempt_at", Value: bson.D{{Key: "$exists", Value: false}}}}); err != nil {
		return st, s.translate("count outbox", err)
	}
	if st.Queued > 0 {
		var d outboxDoc
		err := c.FindOne(ctx, queued, options.FindOne().SetSort(bson.D{{Key: "created_at", Value: 1}}).SetProjection(bson.D{{Key: "created_at", Value: 1}})).Decode(&d)
		if err != nil && !isNotFound(s.translate("oldest mail", err)) {
			return st, s.translate("oldest mail", err)
		}
		st.Oldest = d.CreatedAt
	}
	return st, nil
}

// SweepMailClaims deletes the claims left behind by senders that crashed, once no
// mail can be claimed again under them.
func (s *Store) SweepMailClaims(ctx context.Context, now time.Time) (int64, error) {
	return s.deleteExpired(ctx, collMailClaims, now)
}
