// Deletes up to $limit score edges of versions other than the active one; run until it returns 0.
// Segment history (IN_SEGMENT, Segment) is pruned separately. Idempotent.
// $active: string; $limit: int
MATCH ()-[r:INTERESTED_IN|INTERESTED_IN_CATEGORY|SIMILAR_TO]->()
WHERE r.version <> $active
WITH r LIMIT $limit
DELETE r
RETURN count(*) AS deleted
