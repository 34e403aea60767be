// Drops the vector index on Item.embedding before item embeddings are overwritten (FalkorDB:
// an overwritten indexed vecf32 leaves an orphan vector in the index; see graph/vectors.py).
// The index is built again from cypher/schema/ afterwards. Idempotent: dropping a missing
// index is not an error. No parameters.
DROP VECTOR INDEX FOR (i:Item) ON (i.embedding)
