// The "popular" scorer of a recommendation experiment: the $limit items bought by the most
// users, most bought first (the service drops those a user already bought). Read-only.
// $limit: int
MATCH (u:User)-[x:INTERACTED]->(i:Item)
WHERE x.n_purchase > 0
RETURN i.id AS item, count(u) AS buyers
ORDER BY buyers DESC, item
LIMIT $limit
