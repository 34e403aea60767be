// Every INTERESTED_IN edge of the active refresh (user, item, rank): what is served, for
// measuring it against held-out items. Read-only.
MATCH (m:Meta {key: 'active_refresh'})
MATCH (u:User)-[r:INTERESTED_IN]->(i:Item)
WHERE r.version = m.version
RETURN u.id AS user, i.id AS item, r.rank AS rank
ORDER BY user, rank
