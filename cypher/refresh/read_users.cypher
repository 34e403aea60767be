// Named users with their interactions (same shape as read_user_page). Read-only.
// $ids: list<string>
UNWIND $ids AS user_id
MATCH (u:User {id: user_id})
OPTIONAL MATCH (u)-[r:INTERACTED]->(i:Item)
RETURN u.id AS id, u.text AS text, u.text_embedding_hash AS text_hash,
       u.text_embedding AS text_embedding, u.purchase_days AS purchase_days,
       u.revenue AS revenue, u.last_ts AS last_ts,
       collect([i.id, r.weight, r.last_ts, r.n_purchase - r.n_return]) AS edges
