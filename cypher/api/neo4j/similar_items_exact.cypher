// Items nearest to an item's embedding by exact cosine over every item (Neo4j): the fallback of
// similar_items_vector when the vector index cannot answer (missing, still populating).
// vector.similarity.cosine yields (1 + cosine) / 2; score is the cosine itself, the scale of
// similar_items_vector. Read-only.
// Zero rows: unknown item or an item without an embedding (no refresh yet).
// $item: string; $k: int
MATCH (a:Item {id: $item})
WHERE a.embedding IS NOT NULL
MATCH (node:Item)
WHERE node <> a AND node.embedding IS NOT NULL
RETURN node.id AS item, node.title AS title,
       2.0 * vector.similarity.cosine(a.embedding, node.embedding) - 1.0 AS score
ORDER BY score DESC, item
LIMIT $k
