// Browser: items nearest to an item's embedding through the vector index item_embedding, with
// their cosine similarity (the index yields (1 + cosine) / 2), beside the refresh's SIMILAR_TO
// rank when there is one. Read-only.
// Parameters:
//   :param item => '85123A'
//   :param k => 10
MATCH (m:Meta {key: 'active_refresh'})
MATCH (a:Item {id: $item})
WHERE a.embedding IS NOT NULL
CALL db.index.vector.queryNodes('item_embedding', $k * 2 + 10, a.embedding) YIELD node, score
WITH m, a, node, score
WHERE node <> a
OPTIONAL MATCH (a)-[s:SIMILAR_TO]->(node)
WHERE s.version = m.version
RETURN node.id AS item, node.title AS title, 2.0 * score - 1.0 AS similarity, s.rank AS similar_rank
ORDER BY similarity DESC, item
LIMIT $k
