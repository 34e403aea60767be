// Audience evaluation: every user id, a page at a time — what a NOT rule subtracts from. Read-only.
// $after: string ("" for the first page); $limit: int
MATCH (u:User)
WHERE u.id > $after
RETURN u.id AS id
ORDER BY id
LIMIT $limit
