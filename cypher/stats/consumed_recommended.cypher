// Active recommendations of items the user consumed (bought, returned, rated or reviewed:
// interest_graph.recipe CONSUMED_TYPES): should be none. Read-only.
MATCH (m:Meta {key: 'active_refresh'})
MATCH (u:User)-[r:INTERESTED_IN]->(i:Item)<-[x:INTERACTED]-(u)
WHERE r.version = m.version AND x.n_purchase + x.n_return + x.n_rating + x.n_review > 0
RETURN count(r) AS n
