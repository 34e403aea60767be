// Items nearest to an item's embedding through the vector index (Neo4j). Read-only.
// Neo4j yields a similarity in [0, 1] (higher is closer).
// Zero rows: unknown item or an item without an embedding (no refresh yet).
// The index is approximate and may hold near-duplicates of the item: over-fetch, drop the item
// itself, keep k. $item: string; $k: int
MATCH (a:Item {id: $item})
WHERE a.embedding IS NOT NULL
CALL db.index.vector.queryNodes('item_embedding', $k * 2 + 10, a.embedding) YIELD node, score
WITH a, node, score
WHERE node <> a
RETURN node.id AS item, node.title AS title, score
ORDER BY score DESC, item
LIMIT $k
