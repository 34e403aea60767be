// A few users of the active refresh with the most interactions, for reports. Read-only.
// $limit: int
MATCH (m:Meta {key: 'active_refresh'})
MATCH (u:User)
WHERE u.segment STARTS WITH m.version
RETURN u.id AS id, u.events AS events, u.segment_label AS segment, u.value_tier AS tier,
       u.churn_risk AS churn_risk, u.expected_value AS expected_value
ORDER BY events DESC, id
LIMIT $limit
