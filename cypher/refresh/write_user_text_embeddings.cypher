// Caches user text (reviews, searches) embeddings, keyed by content hash. Erased with the user.
// Idempotent. $rows: list<{id, hash, embedding: list<float>}>
UNWIND $rows AS row
MATCH (u:User {id: row.id})
SET u.text_embedding = row.embedding, u.text_embedding_hash = row.hash
