// Segments of the active refresh with their labels and sizes, largest first. Read-only.
MATCH (m:Meta {key: 'active_refresh'})
MATCH (s:Segment {version: m.version})
RETURN s.id AS id, s.label AS label, s.size AS size, s.top_categories AS top_categories,
       s.silhouette AS silhouette, s.avg_expected_value AS avg_expected_value
ORDER BY size DESC
