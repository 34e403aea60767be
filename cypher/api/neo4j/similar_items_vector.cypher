// Items nearest to an item's embedding through the vector index (Neo4j). Read-only.
// Neo4j's cosine index yields (1 + cosine) / 2; score is the cosine itself, the scale of
// SIMILAR_TO and of the FalkorDB variant.
// Zero rows: unknown item or an item without an embedding (no refresh yet).
// The index is approximate and may hold near-duplicates of the item: over-fetch, drop the item
// itself, keep k. $item: string; $k: int
MATCH (a:Item {id: $item})
WHERE a.embedding IS NOT NULL
CALL db.index.vector.queryNodes('item_embedding', $k * 2 + 10, a.embedding) YIELD node, score
WITH a, node, score
WHERE node <> a
RETURN node.id AS item, node.title AS title, 2.0 * score - 1.0 AS score
ORDER BY score DESC, item
LIMIT $k
