// Segments of the active refresh with their profile and brief, largest first. Read-only.
MATCH (m:Meta {key: 'active_refresh'})
MATCH (s:Segment {version: m.version})
RETURN s.id AS id, s.version AS version, s.label AS label, s.size AS size,
       s.top_categories AS top_categories, s.tiers AS tiers, s.tier_counts AS tier_counts,
       s.avg_expected_value AS avg_expected_value, s.avg_churn_risk AS avg_churn_risk,
       s.share AS share, s.category_shares AS category_shares,
       s.category_lifts AS category_lifts, s.brief AS brief,
       s.base_expected_value AS base_expected_value, s.base_churn_risk AS base_churn_risk,
       s.churn_basis AS churn_basis, s.churn_method AS churn_method,
       s.recency_days AS recency_days, s.base_recency_days AS base_recency_days,
       s.frequency AS frequency, s.base_frequency AS base_frequency,
       s.order_value AS order_value, s.base_order_value AS base_order_value,
       s.items_per_order AS items_per_order, s.base_items_per_order AS base_items_per_order,
       s.distance_limit AS distance_limit, s.warm_start AS warm_start,
       s.silhouette AS silhouette, s.created_at AS created_at
ORDER BY size DESC, id
