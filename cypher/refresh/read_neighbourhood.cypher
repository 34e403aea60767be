// The 1-hop neighbourhood of changed users and items: the changed users, plus every user who
// interacted with a changed item. The incremental refresh re-scores these. Read-only.
// $users: list<string>; $items: list<string>
UNWIND $items AS item_id
MATCH (:Item {id: item_id})<-[:INTERACTED]-(u:User)
WITH collect(DISTINCT u.id) AS via_items
RETURN via_items + [x IN $users WHERE NOT x IN via_items] AS users
