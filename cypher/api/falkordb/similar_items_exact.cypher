// Items nearest to an item's embedding by exact cosine over every item (FalkorDB): the
// fallback of similar_items_vector while the vector index is missing or being rebuilt after a
// refresh. Same rows and scale as similar_items_vector (score = 1 - cosine distance). Read-only.
// Zero rows: unknown item or an item without an embedding (no refresh yet).
// $item: string; $k: int
MATCH (a:Item {id: $item})
WHERE a.embedding IS NOT NULL
MATCH (node:Item)
WHERE node <> a AND node.embedding IS NOT NULL
RETURN node.id AS item, node.title AS title,
       1.0 - vec.cosineDistance(a.embedding, node.embedding) AS score
ORDER BY score DESC, item
LIMIT $k
