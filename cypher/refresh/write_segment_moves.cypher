// Segment movements between refreshes, written once at refresh time as graph data: for every
// (segment of $previous, segment of $version) pair, how many users went from one to the other,
// as (:Segment)-[:MOVED_TO {version, users}]->(:Segment). A user's $previous segment is the one
// they held when $version was computed (incremental re-assignments included). Users new since
// $previous have no edge (a segment's new users: its size minus its incoming moves). The edges
// go with the older segment when segment history is pruned. Idempotent.
// $version, $previous: string
MATCH (u:User)-[cur:IN_SEGMENT]->(a:Segment)
WHERE cur.version = $version
MATCH (u)-[before:IN_SEGMENT]->(b:Segment)
WHERE before.version = $previous
WITH a, b, count(u) AS users
MERGE (b)-[m:MOVED_TO {version: $version}]->(a)
SET m.users = users
RETURN count(m) AS pairs
