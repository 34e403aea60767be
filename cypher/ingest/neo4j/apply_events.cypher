// Applies one batch of new events in one atomic query (Neo4j): event markers (keyed hashes, for
// exactly-once), users, items (created bare if unknown) and one aggregated INTERACTED edge per
// (user, item) pair.
// Guarded by the event_id uniqueness constraint: if any id in $ids is already applied, the
// CREATE fails and the transaction changes nothing (the adapter raises Conflict); the caller
// then re-checks which events are new. Without the FalkorDB variant's read of every id first,
// and with each new edge and user written once rather than zeroed then summed, this is the form
// PROFILE showed to cost Neo4j least. With no pairs it returns no row.
// Edges are found with OPTIONAL MATCH and created when missing, not MERGEd: MERGE would expand
// (n)-[:INTERACTED]->(i) twice per new edge and lock the item. No edge can be created twice,
// because every writer of INTERACTED edges (this query only) first writes the user's properties,
// which holds the user's exclusive lock (or, for a new user, the lock of its unique index entry)
// until commit: two batches touching one user are serialised before either reads its edges.
// (Measured on Online Retail, 200k events, warm server: 9-14% more events/s than the MERGE.)
// The SET below updates an existing edge; on a new one r is null and the SET does nothing.
// Edge weight is a time-decayed sum kept "as of" r.last_ts (interest_graph.recipe):
//   weight = sum_i w_i * 2^(-(last_ts - t_i) / half_life)
// so batches may arrive in any order. A pair carries the same sum as of p.last_ts. Map updates
// (+=) read every old value before writing any. Pairs are nested under their user.
// $ids: list<string>; $users: list<{id, first_ts, last_ts, events, text?, days: list<int>
//   (distinct purchase days, epoch days), revenue: float (net of returns), pairs: list<pair>}>
// with pair = {item, first_ts, last_ts, weight, quantity, revenue, rating?, rating_ts?,
//   review?, counts: list<int> of events per type in the order view, click, search, wishlist,
//   cart, purchase, return, review, rating}> (a missing key reads as null);
// $now: float (epoch s, ingestion time); $half_life: float (seconds)
UNWIND $ids AS id
CREATE (:Event {id: id})
WITH count(*) AS created
UNWIND $users AS u
MERGE (n:User {id: u.id})
ON CREATE SET n += {first_ts: u.first_ts, last_ts: u.last_ts, events: u.events, created_at: $now,
                    purchase_days: u.days, revenue: u.revenue, text: left(u.text, 2000),
                    updated_at: $now}
ON MATCH SET n += {
    events: n.events + u.events,
    purchase_days: n.purchase_days + [d IN u.days WHERE NOT d IN n.purchase_days],
    revenue: n.revenue + u.revenue,
    first_ts: CASE WHEN u.first_ts < n.first_ts THEN u.first_ts ELSE n.first_ts END,
    last_ts: CASE WHEN u.last_ts > n.last_ts THEN u.last_ts ELSE n.last_ts END,
    text: CASE WHEN u.text IS NULL THEN n.text WHEN n.text IS NULL THEN u.text
               ELSE left(u.text + ' ' + n.text, 2000) END,
    updated_at: $now}
WITH created, n, u
UNWIND u.pairs AS p
MERGE (i:Item {id: p.item})
ON CREATE SET i.created_at = $now, i.updated_at = $now
WITH created, n, p, i
OPTIONAL MATCH (n)-[r:INTERACTED]->(i)
FOREACH (_ IN CASE WHEN r IS NULL THEN [1] ELSE [] END |
  CREATE (n)-[:INTERACTED {first_ts: p.first_ts, last_ts: p.last_ts, weight: p.weight,
    n_view: p.counts[0], n_click: p.counts[1], n_search: p.counts[2], n_wishlist: p.counts[3],
    n_cart: p.counts[4], n_purchase: p.counts[5], n_return: p.counts[6], n_review: p.counts[7],
    n_rating: p.counts[8], quantity: p.quantity, revenue: p.revenue, rating: p.rating,
    rating_ts: p.rating_ts, review: p.review}]->(i))
SET r += {
    weight: CASE WHEN p.last_ts > r.last_ts
                 THEN r.weight * 2.0 ^ ((r.last_ts - p.last_ts) / $half_life) + p.weight
                 ELSE r.weight + p.weight * 2.0 ^ ((p.last_ts - r.last_ts) / $half_life) END,
    last_ts: CASE WHEN p.last_ts > r.last_ts THEN p.last_ts ELSE r.last_ts END,
    first_ts: CASE WHEN p.first_ts < r.first_ts THEN p.first_ts ELSE r.first_ts END,
    n_view: r.n_view + p.counts[0], n_click: r.n_click + p.counts[1],
    n_search: r.n_search + p.counts[2], n_wishlist: r.n_wishlist + p.counts[3],
    n_cart: r.n_cart + p.counts[4], n_purchase: r.n_purchase + p.counts[5],
    n_return: r.n_return + p.counts[6], n_review: r.n_review + p.counts[7],
    n_rating: r.n_rating + p.counts[8],
    quantity: r.quantity + p.quantity, revenue: r.revenue + p.revenue,
    rating: CASE WHEN p.rating IS NOT NULL AND p.rating_ts >= coalesce(r.rating_ts, 0.0)
                 THEN p.rating ELSE r.rating END,
    rating_ts: CASE WHEN p.rating IS NOT NULL AND p.rating_ts >= coalesce(r.rating_ts, 0.0)
                    THEN p.rating_ts ELSE r.rating_ts END,
    review: coalesce(p.review, r.review)}
RETURN created, count(*) AS edges
