// Top-K similar items per item under $version. Idempotent.
// $version: string; $rows: list<{item, other, score: float, rank: int}>
UNWIND $rows AS row
MATCH (a:Item {id: row.item})
MATCH (b:Item {id: row.other})
MERGE (a)-[r:SIMILAR_TO {version: $version}]->(b)
SET r.score = row.score, r.rank = row.rank
