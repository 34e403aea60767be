// Top-K item interests of users under $version (not visible to readers until activated).
// Idempotent (MERGE per version). $version, $model_version: string;
// $rows: list<{user, item, score: float, rank: int, reason: string}>
UNWIND $rows AS row
MATCH (u:User {id: row.user})
MATCH (i:Item {id: row.item})
MERGE (u)-[r:INTERESTED_IN {version: $version}]->(i)
SET r.score = row.score, r.rank = row.rank, r.reason = row.reason, r.model_version = $model_version
