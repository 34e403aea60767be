// Every SIMILAR_TO edge of the active refresh (item, other, rank, score): what is served as similar
// items. Read-only; tests and exports.
MATCH (m:Meta {key: 'active_refresh'})
MATCH (a:Item)-[r:SIMILAR_TO]->(b:Item)
WHERE r.version = m.version
RETURN a.id AS item, b.id AS other, r.rank AS rank, r.score AS score
ORDER BY item, rank
