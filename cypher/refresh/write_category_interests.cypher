// User → category interest scores under $version. Idempotent.
// $version: string; $rows: list<{user, category, score: float}>
UNWIND $rows AS row
MATCH (u:User {id: row.user})
MATCH (c:Category {name: row.category})
MERGE (u)-[r:INTERESTED_IN_CATEGORY {version: $version}]->(c)
SET r.score = row.score
