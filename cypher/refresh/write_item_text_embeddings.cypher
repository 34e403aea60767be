// Caches item text embeddings in the graph, keyed by the content hash they were computed from.
// Idempotent. $rows: list<{id, hash, embedding: list<float>}>
UNWIND $rows AS row
MATCH (i:Item {id: row.id})
SET i.text_embedding = row.embedding, i.text_embedding_hash = row.hash
