// Items nearest to an item's embedding through the vector index (FalkorDB). Read-only.
// FalkorDB yields a cosine distance (lower is closer); score = 1 - distance.
// Zero rows: unknown item or an item without an embedding (no refresh yet).
// The index is approximate and may hold near-duplicates of the item: over-fetch, drop the item
// itself, keep k. $item: string; $k: int
MATCH (a:Item {id: $item})
WHERE a.embedding IS NOT NULL
CALL db.idx.vector.queryNodes('Item', 'embedding', $k * 2 + 10, a.embedding) YIELD node, score
WITH a, node, score
WHERE node <> a
RETURN node.id AS item, node.title AS title, 1.0 - score AS score
ORDER BY score DESC, item
LIMIT $k
