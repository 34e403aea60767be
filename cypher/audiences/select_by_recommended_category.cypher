// Audience leaf: users with an item of category $category among their recommendations of the
// active refresh (INTERESTED_IN) at rank <= $max_rank and with score >= $min_score (a null
// condition is not applied): "interested in the category" through the items the model would
// recommend them. Read-only; paged by id.
// $category: string; $min_score: float or null; $max_rank: int or null;
// $after: string ("" for the first page); $limit: int
MATCH (m:Meta {key: 'active_refresh'})
MATCH (c:Category {name: $category})<-[:IN_CATEGORY]-(:Item)<-[r:INTERESTED_IN]-(u:User)
WHERE r.version = m.version AND u.id > $after
  AND ($min_score IS NULL OR r.score >= $min_score)
  AND ($max_rank IS NULL OR r.rank <= $max_rank)
RETURN DISTINCT u.id AS id
ORDER BY id
LIMIT $limit
