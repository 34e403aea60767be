// Purchase activity of some users, for experiment baselines (at the start) and outcomes (later):
// purchase events, net revenue, purchase events of targeted items, and the purchase events of
// each listed item the user has an edge to as [item, n_purchase]. Read-only.
// $users: list<string>; $targets: list<string> (targeted item ids);
// $items: list<string> (items whose counts are wanted, e.g. served recommendations)
UNWIND $users AS uid
MATCH (u:User {id: uid})
OPTIONAL MATCH (u)-[x:INTERACTED]->(i:Item)
WITH u, sum(coalesce(x.n_purchase, 0)) AS purchases,
     sum(CASE WHEN i.id IN $targets THEN coalesce(x.n_purchase, 0) ELSE 0 END) AS target_purchases,
     collect(CASE WHEN i.id IN $items THEN [i.id, x.n_purchase] ELSE null END) AS items
RETURN u.id AS user, coalesce(u.revenue, 0.0) AS revenue, purchases, target_purchases, items
