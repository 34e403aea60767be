// One page of users (ordered by id, after $after) with their interactions, for the model.
// Memory stays bounded by $limit users per page. Read-only.
// $after: string ("" for the first page); $limit: int
MATCH (u:User)
WHERE u.id > $after
WITH u ORDER BY u.id LIMIT $limit
OPTIONAL MATCH (u)-[r:INTERACTED]->(i:Item)
RETURN u.id AS id, u.text AS text, u.text_embedding_hash AS text_hash,
       u.text_embedding AS text_embedding, u.purchase_days AS purchase_days,
       u.revenue AS revenue, u.last_ts AS last_ts,
       collect([i.id, r.weight, r.last_ts, r.n_purchase - r.n_return]) AS edges
ORDER BY id
