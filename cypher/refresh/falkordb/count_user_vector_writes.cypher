// Counts user embeddings about to be overwritten in place (incremental refresh) since the User
// vector index was last built, and says whether it is due for a rebuild: once more than $share
// of the users were overwritten (graph/vectors.py). Resets the count when it says so; no row
// before the first activation.
// $n: int; $share: float
MATCH (m:Meta {key: 'active_refresh'})
WITH m, coalesce(m.user_vector_writes, 0) + $n AS writes
OPTIONAL MATCH (u:User)
WITH m, writes, writes > $share * count(u) AS due
SET m.user_vector_writes = CASE WHEN due THEN 0 ELSE writes END
RETURN due, m.user_vector_writes AS writes
