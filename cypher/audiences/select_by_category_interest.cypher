// Audience leaf: users interested in category $category under the active refresh
// (INTERESTED_IN_CATEGORY), with score >= $min_score and rank <= $max_rank, where rank is 1 + the
// number of the user's categories with a strictly higher score; a null condition is not applied.
// Read-only; paged by id.
// $category: string; $min_score: float or null; $max_rank: int or null;
// $after: string ("" for the first page); $limit: int
MATCH (m:Meta {key: 'active_refresh'})
MATCH (c:Category {name: $category})<-[r:INTERESTED_IN_CATEGORY]-(u:User)
WHERE r.version = m.version AND u.id > $after
  AND ($min_score IS NULL OR r.score >= $min_score)
OPTIONAL MATCH (u)-[o:INTERESTED_IN_CATEGORY]->(:Category)
WHERE o.version = m.version AND o.score > r.score
WITH u, count(o) AS stronger
WHERE $max_rank IS NULL OR stronger < $max_rank
RETURN u.id AS id
ORDER BY id
LIMIT $limit
