// Browser: users whose embeddings are nearest to a user's (vector index user_embedding), with
// the segment each belongs to, and their cosine similarity (the index yields (1 + cosine) / 2).
// Read-only. Parameters:
//   :param user => 'u0123456789abcdef0123456789abcdef'
//   :param k => 10
MATCH (u:User {id: $user})
WHERE u.embedding IS NOT NULL
CALL db.index.vector.queryNodes('user_embedding', $k * 2 + 10, u.embedding) YIELD node, score
WITH u, node, score
WHERE node <> u
RETURN node.id AS user, 2.0 * score - 1.0 AS similarity, node.segment_label AS segment,
       node.value_tier AS tier, node.events AS events
ORDER BY similarity DESC, user
LIMIT $k
