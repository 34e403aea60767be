// Browser: users whose embeddings are nearest to a user's (vector index on User.embedding),
// with the segment each belongs to. FalkorDB yields a cosine distance; similarity = 1 - distance.
// Read-only. Parameters:
//   :param user => 'u0123456789abcdef0123456789abcdef'
//   :param k => 10
MATCH (u:User {id: $user})
WHERE u.embedding IS NOT NULL
CALL db.idx.vector.queryNodes('User', 'embedding', $k * 2 + 10, u.embedding) YIELD node, score
WITH u, node, score
WHERE node <> u
RETURN node.id AS user, 1.0 - score AS similarity, node.segment_label AS segment,
       node.value_tier AS tier, node.events AS events
ORDER BY similarity DESC, user
LIMIT $k
