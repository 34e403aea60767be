// A user's categories by interaction weight, the heaviest first, as segments see them: each
// edge's weight as stored, split evenly over its item's categories. Also the user's total weight
// over categorised items (to turn weights into shares); for "why this segment".
// Zero rows or empty lists: the user has no categorised interaction. Read-only.
// $user: string (graph id); $limit: int
MATCH (u:User {id: $user})-[r:INTERACTED]->(i:Item)-[:IN_CATEGORY]->(:Category)
WHERE r.weight > 0
WITH i, r.weight AS weight, count(*) AS n
MATCH (i)-[:IN_CATEGORY]->(c:Category)
WITH c.name AS category, sum(weight / n) AS weight
ORDER BY weight DESC, category
WITH collect(category) AS categories, collect(weight) AS weights
RETURN categories[0..$limit] AS categories, weights[0..$limit] AS weights,
       reduce(total = 0.0, w IN weights | total + w) AS total
