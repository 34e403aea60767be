// 2-D map positions of users under the active refresh, for the dashboard. Ordered by the
// (pseudonymised, hence well mixed) id, so a limit is a stable sample. Read-only.
// $limit: int
MATCH (m:Meta {key: 'active_refresh'})
MATCH (u:User)
WHERE u.map_x IS NOT NULL AND u.segment STARTS WITH m.version
RETURN u.id AS user, u.map_x AS x, u.map_y AS y, u.segment AS segment
ORDER BY user
LIMIT $limit
