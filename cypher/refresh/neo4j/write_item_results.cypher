// Full refresh: the embeddings of $version for a batch of items, written in batches before
// `activate_refresh` (see write_user_results). Neo4j 5 vector indexes read LIST<FLOAT>
// properties. Idempotent.
// $now: float; $rows: list<{id, embedding: list<float>}>
UNWIND $rows AS row
MATCH (i:Item {id: row.id})
SET i.embedding = row.embedding, i.scored_at = $now
RETURN count(*) AS items
