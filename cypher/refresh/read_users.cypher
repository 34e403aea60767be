// Named users with their interactions (same shape as read_user_page). Read-only.
// $ids: list<string>
UNWIND $ids AS user_id
MATCH (u:User {id: user_id})
OPTIONAL MATCH (u)-[r:INTERACTED]->(i:Item)
RETURN u.id AS id, u.text AS text, u.text_embedding_hash AS text_hash,
       u.text_embedding AS text_embedding, u.purchase_days AS purchase_days,
       u.revenue AS revenue, u.updated_at AS updated_at,
       collect(i.id) AS items, collect(r.weight) AS weights, collect(r.first_ts) AS first_ts,
       collect(r.last_ts) AS last_ts,
       collect(r.n_purchase + r.n_return + r.n_rating + r.n_review > 0) AS consumed
ORDER BY id
