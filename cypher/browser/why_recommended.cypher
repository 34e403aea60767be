// Browser: why an item is recommended to a user — the model's score, rank and reason, the items
// the user interacted with whose refresh-computed similar items include it (SIMILAR_TO from the
// supporting item to the recommended one), and the categories they share.
// One row per supporting item (support null when none). Read-only. Parameters:
//   :param user => 'u0123456789abcdef0123456789abcdef'
//   :param item => '85123A'
MATCH (m:Meta {key: 'active_refresh'})
MATCH (u:User {id: $user})-[r:INTERESTED_IN]->(i:Item {id: $item})
WHERE r.version = m.version
OPTIONAL MATCH (u)-[x:INTERACTED]->(o:Item)-[s:SIMILAR_TO]->(i)
WHERE s.version = m.version
OPTIONAL MATCH (o)-[:IN_CATEGORY]->(c:Category)<-[:IN_CATEGORY]-(i)
RETURN i.title AS title, r.score AS score, r.rank AS rank, r.reason AS reason,
       o.id AS support, o.title AS support_title, x.weight AS interaction_weight,
       s.score AS similarity, collect(DISTINCT c.name) AS shared_categories
ORDER BY similarity DESC
