// Which of the names a rule uses exist: categories, items, and segments (by id or label) of the
// active refresh. Read-only; always one row.
// $categories, $items, $segments, $labels: list<string>
OPTIONAL MATCH (c:Category)
WHERE c.name IN $categories
WITH collect(DISTINCT c.name) AS categories
OPTIONAL MATCH (i:Item)
WHERE i.id IN $items
WITH categories, collect(DISTINCT i.id) AS items
OPTIONAL MATCH (m:Meta {key: 'active_refresh'})
OPTIONAL MATCH (s:Segment)
WHERE s.version = m.version AND (s.id IN $segments OR s.label IN $labels)
RETURN categories, items, collect(DISTINCT s.id) AS segments, collect(DISTINCT s.label) AS labels
