// One user's node-level profile: activity, active segment and customer value (with the basis
// churn risk is stated on, kept on the segment). Read-only.
// The segment is read through the active version's IN_SEGMENT edge, so it is the active
// refresh's even while a full refresh writes its node-level results before it activates.
// Zero rows for an unknown user. Used by the API for 404s, the fallback and /value.
// $user: string (graph id, i.e. the pseudonymised user id)
MATCH (u:User {id: $user})
OPTIONAL MATCH (m:Meta {key: 'active_refresh'})
OPTIONAL MATCH (u)-[g:IN_SEGMENT]->(s:Segment)
WHERE g.version = m.version
WITH u, m, s
ORDER BY s.id
WITH u, m, head(collect(s)) AS s
RETURN u.id AS id, u.events AS events, u.first_ts AS first_ts, u.last_ts AS last_ts,
       m.version AS version, s.id AS segment,
       s.label AS segment_label,
       u.recency_days AS recency_days, u.frequency AS frequency, u.monetary AS monetary,
       u.rfm_score AS rfm_score, u.value_tier AS tier,
       u.expected_purchases AS expected_purchases, u.expected_value AS expected_value,
       u.p_alive AS p_alive, u.churn_risk AS churn_risk, s.churn_basis AS churn_basis
