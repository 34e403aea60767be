// One page of users (ordered by id, after $after) with their interactions, for the model.
// Memory stays bounded by $limit users per page. Edges come as parallel lists (one entry per
// INTERACTED edge, in the same order) so the reader fills arrays without an object per edge.
// consumed: the pair holds a purchase, return, rating or review (interest_graph.recipe
// CONSUMED_TYPES). Read-only.
// $after: string ("" for the first page); $limit: int
MATCH (u:User)
WHERE u.id > $after
WITH u ORDER BY u.id LIMIT $limit
OPTIONAL MATCH (u)-[r:INTERACTED]->(i:Item)
RETURN u.id AS id, u.text AS text, u.text_embedding_hash AS text_hash,
       u.text_embedding AS text_embedding, u.purchase_days AS purchase_days,
       u.revenue AS revenue, u.updated_at AS updated_at,
       collect(i.id) AS items, collect(r.weight) AS weights, collect(r.first_ts) AS first_ts,
       collect(r.last_ts) AS last_ts,
       collect(r.n_purchase + r.n_return + r.n_rating + r.n_review > 0) AS consumed
ORDER BY id
