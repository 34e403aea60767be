// Browser: what each segment of the active refresh is made of — members per value tier, their
// average expected value and churn risk, and the segment's top categories. Read-only.
// Parameters: none.
MATCH (m:Meta {key: 'active_refresh'})
MATCH (s:Segment {version: m.version})<-[g:IN_SEGMENT]-(u:User)
WHERE g.version = m.version
RETURN s.id AS segment, s.label AS label, s.size AS size, u.value_tier AS tier,
       count(u) AS members, avg(u.expected_value) AS avg_expected_value,
       avg(u.churn_risk) AS avg_churn_risk, s.top_categories AS top_categories
ORDER BY size DESC, segment, members DESC
