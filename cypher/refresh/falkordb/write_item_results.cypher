// Full refresh: the embeddings of $version for a batch of items, written in batches before
// `activate_refresh` (see write_user_results). FalkorDB stores vectors as vecf32; run it with
// the Item vector index dropped, each embedding REMOVEd before it is SET (see
// write_user_results). Idempotent.
// $now: float; $rows: list<{id, embedding: list<float>}>
UNWIND $rows AS row
MATCH (i:Item {id: row.id})
REMOVE i.embedding
SET i.embedding = vecf32(row.embedding), i.scored_at = $now
RETURN count(*) AS items
