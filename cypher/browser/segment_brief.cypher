// Browser: the brief of each segment of the active refresh — label, size and share of users, the
// categories it over-indexes on with their lift (how many times more often members have them
// than the whole base), the value profile against the base (expected 90-day value, churn risk
// and the basis it is stated on), behaviour against the base (median days since the last
// purchase, purchase days, spend per purchase day) and the brief in words. Read-only.
// Parameters: none.
MATCH (m:Meta {key: 'active_refresh'})
MATCH (s:Segment {version: m.version})
RETURN s.label AS label, s.size AS size, s.share AS share, s.top_categories AS categories,
       s.category_lifts AS lifts, s.avg_expected_value AS expected_value,
       s.base_expected_value AS base_expected_value, s.avg_churn_risk AS churn_risk,
       s.base_churn_risk AS base_churn_risk, s.churn_basis AS churn_basis,
       s.recency_days AS recency_days, s.base_recency_days AS base_recency_days,
       s.frequency AS purchase_days, s.base_frequency AS base_purchase_days,
       s.order_value AS spend_per_day, s.base_order_value AS base_spend_per_day,
       s.brief AS brief, s.id AS segment
ORDER BY size DESC, segment
