// Segment nodes of refresh $version with their profile. Idempotent.
// $rows: list<{id, index, label, size, top_categories: list<string>, tiers: list<string>,
//   tier_counts: list<int>, avg_expected_value, avg_churn_risk, centroid: list<float>}>;
// $version: string; $silhouette: float; $now: float
UNWIND $rows AS row
MERGE (s:Segment {id: row.id})
SET s.version = $version, s.index = row.index, s.label = row.label, s.size = row.size,
    s.top_categories = row.top_categories, s.tiers = row.tiers, s.tier_counts = row.tier_counts,
    s.avg_expected_value = row.avg_expected_value, s.avg_churn_risk = row.avg_churn_risk,
    s.centroid = row.centroid, s.silhouette = $silhouette, s.created_at = $now
