// Applies one batch of new events in one atomic query (FalkorDB): event markers (keyed hashes,
// for exactly-once), users, items (created bare if unknown) and one aggregated INTERACTED edge
// per (user, item) pair.
// Guarded: if any id in $ids is already applied the query changes nothing and returns no row;
// the caller then re-checks which events are new. With no pairs at all it also returns no row.
// Edge weight is a time-decayed sum kept "as of" r.last_ts (interest_graph.recipe):
//   weight = sum_i w_i * 2^(-(last_ts - t_i) / half_life)
// so batches may arrive in any order. A pair carries the same sum as of p.last_ts. Pairs are
// nested under their user so each user is looked up once.
// $ids: list<string>; $users: list<{id, first_ts, last_ts, events, text?, days: list<int>
//   (distinct purchase days, epoch days), revenue: float (net of returns), pairs: list<pair>}>
// with pair = {item, first_ts, last_ts, weight, quantity, revenue, rating?, rating_ts?,
//   review?, counts: list<int> of events per type in the order view, click, search, wishlist,
//   cart, purchase, return, review, rating}> (a missing key reads as null);
// $now: float (epoch s, ingestion time); $half_life: float (seconds)
UNWIND $ids AS id
OPTIONAL MATCH (seen:Event {id: id})
WITH count(seen) AS clash
WHERE clash = 0
UNWIND $ids AS id
CREATE (:Event {id: id})
WITH clash, count(*) AS created
UNWIND $users AS u
MERGE (n:User {id: u.id})
ON CREATE SET n.first_ts = u.first_ts, n.last_ts = u.last_ts, n.events = 0, n.created_at = $now,
    n.purchase_days = [], n.revenue = 0.0
SET n.events = n.events + u.events,
    n.purchase_days = n.purchase_days + [d IN u.days WHERE NOT d IN n.purchase_days],
    n.revenue = n.revenue + u.revenue,
    n.first_ts = CASE WHEN u.first_ts < n.first_ts THEN u.first_ts ELSE n.first_ts END,
    n.last_ts = CASE WHEN u.last_ts > n.last_ts THEN u.last_ts ELSE n.last_ts END,
    n.text = CASE WHEN u.text IS NULL THEN n.text WHEN n.text IS NULL THEN u.text
                  ELSE left(u.text + ' ' + n.text, 2000) END,
    n.updated_at = $now
WITH created, n, u
UNWIND u.pairs AS p
MERGE (i:Item {id: p.item})
ON CREATE SET i.created_at = $now, i.updated_at = $now
MERGE (n)-[r:INTERACTED]->(i)
ON CREATE SET r.first_ts = p.first_ts, r.last_ts = p.last_ts, r.weight = 0.0,
    r.n_view = 0, r.n_click = 0, r.n_search = 0, r.n_wishlist = 0, r.n_cart = 0,
    r.n_purchase = 0, r.n_return = 0, r.n_review = 0, r.n_rating = 0,
    r.quantity = 0.0, r.revenue = 0.0
WITH created, r, p,
     CASE WHEN p.last_ts > r.last_ts THEN p.last_ts ELSE r.last_ts END AS last_ts
SET r.weight = r.weight * 2.0 ^ ((r.last_ts - last_ts) / $half_life)
             + p.weight * 2.0 ^ ((p.last_ts - last_ts) / $half_life),
    r.last_ts = last_ts,
    r.first_ts = CASE WHEN p.first_ts < r.first_ts THEN p.first_ts ELSE r.first_ts END,
    r.n_view = r.n_view + p.counts[0],
    r.n_click = r.n_click + p.counts[1],
    r.n_search = r.n_search + p.counts[2],
    r.n_wishlist = r.n_wishlist + p.counts[3],
    r.n_cart = r.n_cart + p.counts[4],
    r.n_purchase = r.n_purchase + p.counts[5],
    r.n_return = r.n_return + p.counts[6],
    r.n_review = r.n_review + p.counts[7],
    r.n_rating = r.n_rating + p.counts[8],
    r.quantity = r.quantity + p.quantity,
    r.revenue = r.revenue + p.revenue,
    r.rating = CASE WHEN p.rating IS NOT NULL AND p.rating_ts >= coalesce(r.rating_ts, 0.0)
                    THEN p.rating ELSE r.rating END,
    r.rating_ts = CASE WHEN p.rating IS NOT NULL AND p.rating_ts >= coalesce(r.rating_ts, 0.0)
                       THEN p.rating_ts ELSE r.rating_ts END,
    r.review = CASE WHEN p.review IS NULL THEN r.review ELSE p.review END
RETURN created, count(*) AS edges
