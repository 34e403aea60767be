// What changed after $since (epoch s), for the incremental refresh: users with new events that
// no refresh has scored through yet, and items whose text changed (an item's new interactions
// change its users, who are in the first list; its text changes every user who interacted with
// it). `seen` is each user's `updated_at` as read: the refresh scores the user through it.
// The caller looks back over the commit lag (a batch is stamped before it commits), and
// `scored_through` keeps that look-back from re-scoring anyone twice (1 ms of slack: FalkorDB
// answers doubles to 15 digits, 10 µs at today's epoch, so a value read back may be a hair
// below the stored one; two stamps of one user's batches are further apart). Read-only.
// Items are read from $items_since, the watermark itself: their text edits re-score their users
// with the saved model's item embeddings, which only the next full refresh changes.
// $since, $items_since: float
OPTIONAL MATCH (u:User)
WHERE u.updated_at > $since AND (u.scored_through IS NULL OR u.updated_at > u.scored_through + 0.001)
WITH collect(u.id) AS users, collect(u.updated_at) AS seen
OPTIONAL MATCH (i:Item) WHERE i.text_updated_at > $items_since
RETURN users, seen, collect(i.id) AS items
