// Browser: a user's item interests under the active refresh, with the model's reasons, and
// their strongest category interests. Read-only.
// Parameters (graph id = pseudonymised user id, as shown by the API's member lists and map):
//   :param user => 'u0123456789abcdef0123456789abcdef'
//   :param k => 20
MATCH (m:Meta {key: 'active_refresh'})
MATCH (u:User {id: $user})-[r:INTERESTED_IN]->(i:Item)
WHERE r.version = m.version
OPTIONAL MATCH (i)-[:IN_CATEGORY]->(c:Category)
WITH u, m, r, i, collect(c.name) AS categories
RETURN r.rank AS rank, i.id AS item, i.title AS title, r.score AS score, r.reason AS reason,
       categories, r.model_version AS model_version
ORDER BY rank
LIMIT $k
