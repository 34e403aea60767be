// The "model" scorer of a recommendation experiment: each user's top $k interests of the active
// refresh (never an item the user bought), for recording what an arm was served. Read-only.
// $users: list<string>; $k: int
MATCH (m:Meta {key: 'active_refresh'})
UNWIND $users AS uid
MATCH (u:User {id: uid})-[r:INTERESTED_IN]->(i:Item)
WHERE r.version = m.version AND r.rank <= $k
RETURN u.id AS user, i.id AS item, r.rank AS rank
ORDER BY user, rank
