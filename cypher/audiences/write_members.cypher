// Writes an audience's members under membership version $version; readers keep following
// a.version until activate_audience switches it. Baselines (purchases, net revenue, targeted
// purchases) and served recommendations are given for the experiment's starting version only
// (absent keys read as null). Idempotent (MERGE per version).
// $audience, $version: string; $now: float;
// $rows: list<{user, arm, base_purchases?, base_revenue?, base_target?, served?: list<string>,
//   served_base?: list<int>}>
MATCH (a:Audience {id: $audience})
UNWIND $rows AS row
MATCH (u:User {id: row.user})
MERGE (u)-[r:IN_AUDIENCE {version: $version}]->(a)
SET r.arm = row.arm, r.assigned_at = $now, r.base_purchases = row.base_purchases,
    r.base_revenue = row.base_revenue, r.base_target = row.base_target, r.served = row.served,
    r.served_base = row.served_base
RETURN count(r) AS written
