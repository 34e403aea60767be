// The brief of each Segment of refresh $version (written by write_segments first): distinctive
// categories with their member share and lift, value profile against the whole base (expected
// 90-day value, churn risk and the basis it is stated on), behaviour against the base (median
// recency, purchase days, spend and items per purchase day) and the brief in words; the drift
// limit is the 95th-percentile member distance to the centroid. Idempotent.
// $version: string; $rows: list<{id, share, category_shares: list<float>,
//   category_lifts: list<float>, brief, base_expected_value, base_churn_risk, churn_basis,
//   churn_method, recency_days, base_recency_days, frequency, base_frequency, order_value,
//   base_order_value, items_per_order, base_items_per_order, distance_limit, warm_start}>
UNWIND $rows AS row
MATCH (s:Segment {id: row.id})
WHERE s.version = $version
SET s.share = row.share, s.category_shares = row.category_shares,
    s.category_lifts = row.category_lifts, s.brief = row.brief,
    s.base_expected_value = row.base_expected_value, s.base_churn_risk = row.base_churn_risk,
    s.churn_basis = row.churn_basis, s.churn_method = row.churn_method,
    s.recency_days = row.recency_days, s.base_recency_days = row.base_recency_days,
    s.frequency = row.frequency, s.base_frequency = row.base_frequency,
    s.order_value = row.order_value, s.base_order_value = row.base_order_value,
    s.items_per_order = row.items_per_order, s.base_items_per_order = row.base_items_per_order,
    s.distance_limit = row.distance_limit, s.warm_start = row.warm_start
