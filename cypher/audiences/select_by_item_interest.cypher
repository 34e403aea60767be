// Audience leaf: users with item $item among their top-K interests of the active refresh
// (INTERESTED_IN), with score >= $min_score and rank <= $max_rank (a null condition is not
// applied). Read-only; paged by id.
// $item: string; $min_score: float or null; $max_rank: int or null;
// $after: string ("" for the first page); $limit: int
MATCH (m:Meta {key: 'active_refresh'})
MATCH (i:Item {id: $item})<-[r:INTERESTED_IN]-(u:User)
WHERE r.version = m.version AND u.id > $after
  AND ($min_score IS NULL OR r.score >= $min_score)
  AND ($max_rank IS NULL OR r.rank <= $max_rank)
RETURN u.id AS id
ORDER BY id
LIMIT $limit
