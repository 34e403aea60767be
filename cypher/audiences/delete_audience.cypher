// Deletes an audience with all its membership edges (every version). Idempotent: an unknown id
// matches nothing and returns no row. $audience: string
MATCH (a:Audience {id: $audience})
OPTIONAL MATCH (a)<-[r:IN_AUDIENCE]-(:User)
WITH a, count(r) AS memberships
DETACH DELETE a
RETURN memberships
