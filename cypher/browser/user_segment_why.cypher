// Browser: why a user is in their segment — their heaviest categories (by interaction weight)
// next to the segment's distinctive categories (`shared`: those in both), their value tier next
// to the segment's tier mix, and their distance to the centroid against the segment's drift
// limit (beyond it, the user no longer fits the segment well). Read-only.
// Parameters (graph id = pseudonymised user id, as shown by the API's member lists and map):
//   :param user => 'u0123456789abcdef0123456789abcdef'
MATCH (m:Meta {key: 'active_refresh'})
MATCH (u:User {id: $user})-[g:IN_SEGMENT]->(s:Segment)
WHERE g.version = m.version
OPTIONAL MATCH (u)-[r:INTERACTED]->(:Item)-[:IN_CATEGORY]->(c:Category)
WHERE r.weight > 0
WITH u, s, g, c.name AS category, sum(r.weight) AS weight
ORDER BY weight DESC, category
WITH u, s, g, collect(category)[0..5] AS categories
RETURN s.label AS segment, categories AS user_categories,
       [c IN categories WHERE c IN s.top_categories] AS shared,
       s.top_categories AS segment_categories, u.value_tier AS tier, s.tiers AS segment_tiers,
       s.tier_counts AS tier_counts, g.distance AS distance, s.distance_limit AS distance_limit
