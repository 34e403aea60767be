// A page of an experiment's cohort — the members of the audience's starting version — with
// their arm, baselines at the start and the recommendations served to them. Read-only.
// $audience: string; $after: string ("" for the first page); $limit: int
MATCH (a:Audience {id: $audience})<-[r:IN_AUDIENCE]-(u:User)
WHERE r.version = a.start_version AND u.id > $after
RETURN u.id AS user, r.arm AS arm, r.base_purchases AS base_purchases,
       r.base_revenue AS base_revenue, r.base_target AS base_target, r.served AS served,
       r.served_base AS served_base
ORDER BY user
LIMIT $limit
