// Keeps segment history for the listed versions only: deletes other versions' Segment nodes and
// their IN_SEGMENT edges. Idempotent. $keep: list<string>
MATCH (s:Segment)
WHERE NOT s.version IN $keep
DETACH DELETE s
RETURN count(*) AS deleted
