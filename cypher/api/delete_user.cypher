// Erasure: deletes a user node with every edge (INTERACTED, INTERESTED_IN,
// INTERESTED_IN_CATEGORY, IN_SEGMENT) and everything stored on the node (text, embeddings,
// scores, value), and decrements the size of each segment the user belonged to (active and
// history). Event markers are keyed hashes of event ids with no link to the user; they stay.
// Idempotent: an unknown user matches nothing and returns no row.
// $user: string (graph id)
MATCH (u:User {id: $user})
OPTIONAL MATCH (u)-[:IN_SEGMENT]->(s:Segment)
WITH u, collect(s) AS segments
FOREACH (s IN segments | SET s.size = CASE WHEN s.size > 0 THEN s.size - 1 ELSE 0 END)
WITH u, size(segments) AS memberships
OPTIONAL MATCH (u)-[x:INTERACTED]->()
WITH u, memberships, count(x) AS interactions
OPTIONAL MATCH (u)-[r:INTERESTED_IN]->()
WITH u, memberships, interactions, count(r) AS interests
OPTIONAL MATCH (u)-[c:INTERESTED_IN_CATEGORY]->()
WITH u, memberships, interactions, interests, count(c) AS category_interests
DETACH DELETE u
RETURN interactions, interests, category_interests, memberships
