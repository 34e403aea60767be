// Segments of the active refresh with their profile, largest first. Read-only.
MATCH (m:Meta {key: 'active_refresh'})
MATCH (s:Segment {version: m.version})
RETURN s.id AS id, s.version AS version, s.label AS label, s.size AS size,
       s.top_categories AS top_categories, s.tiers AS tiers, s.tier_counts AS tier_counts,
       s.avg_expected_value AS avg_expected_value, s.avg_churn_risk AS avg_churn_risk,
       s.silhouette AS silhouette, s.created_at AS created_at
ORDER BY size DESC, id
