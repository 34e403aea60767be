// Deletes the score edges of versions other than the active one from the users named (a page of
// ids: each call costs the edges of its users, not of the whole graph). Idempotent.
// Segment history (IN_SEGMENT, Segment) is pruned separately.
// $active: string; $ids: list<string>
UNWIND $ids AS user_id
MATCH (:User {id: user_id})-[r:INTERESTED_IN|INTERESTED_IN_CATEGORY]->()
WHERE r.version <> $active
DELETE r
RETURN count(*) AS deleted
