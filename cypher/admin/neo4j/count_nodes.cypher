// Every node of the database (from Neo4j's count store: constant time). Read-only; for
// `load --bulk`, which imports only into an empty database.
MATCH (n) RETURN count(n) AS nodes
