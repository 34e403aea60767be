// Deletes the SIMILAR_TO edges of versions other than the active one from the items named (a
// page of ids). Idempotent.
// $active: string; $ids: list<string>
UNWIND $ids AS item_id
MATCH (:Item {id: item_id})-[r:SIMILAR_TO]->()
WHERE r.version <> $active
DELETE r
RETURN count(*) AS deleted
