// Items nearest to an item's embedding through the vector index (Neo4j). Read-only.
// Neo4j yields a similarity in [0, 1] (higher is closer).
// Zero rows: unknown item or an item without an embedding (no refresh yet).
// $item: string; $k: int
MATCH (a:Item {id: $item})
WHERE a.embedding IS NOT NULL
CALL db.index.vector.queryNodes('item_embedding', $k + 1, a.embedding) YIELD node, score
WITH a, node, score
WHERE node <> a
RETURN node.id AS item, node.title AS title, score
ORDER BY score DESC, item
LIMIT $k
