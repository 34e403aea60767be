// Items similar to an item under the active refresh (SIMILAR_TO), best first. Read-only.
// Zero rows: unknown item. One row with item null: a known item without similar items.
// $item: string; $k: int
MATCH (a:Item {id: $item})
OPTIONAL MATCH (m:Meta {key: 'active_refresh'})
OPTIONAL MATCH (a)-[r:SIMILAR_TO]->(b:Item)
WHERE r.version = m.version
RETURN a.id AS source, m.version AS version, b.id AS item, b.title AS title, r.score AS score,
       r.rank AS rank
ORDER BY rank
LIMIT $k
