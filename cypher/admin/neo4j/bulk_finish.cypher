// After `load --bulk`: what the import's CSV cannot say. An empty list field imports as no
// property, where an ordinary load writes [] (apply_events appends to it). Needs auto-commit
// transactions (Neo4jStore.run_batched).
MATCH (u:User) WHERE u.purchase_days IS NULL
CALL (u) { SET u.purchase_days = [] } IN TRANSACTIONS OF 50000 ROWS
