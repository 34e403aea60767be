// Items nearest to an item's embedding through the vector index (FalkorDB). Read-only.
// FalkorDB yields a cosine distance (lower is closer); score = 1 - distance.
// Zero rows: unknown item or an item without an embedding (no refresh yet).
// $item: string; $k: int
MATCH (a:Item {id: $item})
WHERE a.embedding IS NOT NULL
CALL db.idx.vector.queryNodes('Item', 'embedding', $k + 1, a.embedding) YIELD node, score
WITH a, node, score
WHERE node <> a
RETURN node.id AS item, node.title AS title, 1.0 - score AS score
ORDER BY score DESC, item
LIMIT $k
