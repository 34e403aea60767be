// Deletes up to $limit membership edges of an audience whose version is not in $keep (history
// beyond the kept versions, or an evaluation that never activated); run until it returns 0.
// Idempotent. $audience: string; $keep: list<string>; $limit: int
MATCH (:Audience {id: $audience})<-[r:IN_AUDIENCE]-(:User)
WHERE NOT r.version IN $keep
WITH r LIMIT $limit
DELETE r
RETURN count(*) AS deleted
