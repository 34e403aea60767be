// Active recommendations of items the user has bought (net) — should be none. Read-only.
MATCH (m:Meta {key: 'active_refresh'})
MATCH (u:User)-[r:INTERESTED_IN]->(i:Item)<-[x:INTERACTED]-(u)
WHERE r.version = m.version AND x.n_purchase > x.n_return
RETURN count(r) AS n
