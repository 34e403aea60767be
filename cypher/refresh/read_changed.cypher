// What changed after $since (epoch s), for the incremental refresh: users with new events, and
// items whose text changed (an item's new interactions change its users, who are in the first
// list; its text changes every user who interacted with it). Read-only.
// $since: float
OPTIONAL MATCH (u:User) WHERE u.updated_at > $since
WITH collect(u.id) AS users
OPTIONAL MATCH (i:Item) WHERE i.text_updated_at > $since
RETURN users, collect(i.id) AS items
