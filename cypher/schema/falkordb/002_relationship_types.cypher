// Every relationship type a write MERGEs, made known to the graph before any write (FalkorDB).
// Like a label (001_indexes), a relationship type that is not in the graph yet lets two first
// MERGEs of the same edge both create it: two writers' first batches on a fresh graph gave two
// INTERACTED edges for each pair they shared (tests/integration/test_store_contract.py). One
// edge of each type between two unlabelled nodes is created and deleted in the same query, which
// leaves only the types behind; no reader sees the nodes. Idempotent.
CREATE (a), (b),
       (a)-[:INTERACTED]->(b), (a)-[:IN_CATEGORY]->(b), (a)-[:INTERESTED_IN]->(b),
       (a)-[:INTERESTED_IN_CATEGORY]->(b), (a)-[:SIMILAR_TO]->(b), (a)-[:IN_SEGMENT]->(b),
       (a)-[:MOVED_TO]->(b), (a)-[:IN_AUDIENCE]->(b)
WITH a, b
DETACH DELETE a, b
