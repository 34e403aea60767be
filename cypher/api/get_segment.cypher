// One segment's profile (any kept version) and whether it belongs to the active refresh.
// Zero rows: unknown segment. Read-only.
// $segment: string ("<version>:<index>")
MATCH (s:Segment {id: $segment})
OPTIONAL MATCH (m:Meta {key: 'active_refresh'})
RETURN s.id AS id, s.version AS version, s.label AS label, s.size AS size,
       s.top_categories AS top_categories, s.tiers AS tiers, s.tier_counts AS tier_counts,
       s.avg_expected_value AS avg_expected_value, s.avg_churn_risk AS avg_churn_risk,
       s.silhouette AS silhouette, s.created_at AS created_at,
       coalesce(s.version = m.version, false) AS active
