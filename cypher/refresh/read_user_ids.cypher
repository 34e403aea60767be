// Every user's graph id, for work done in pages of users. Read-only.
MATCH (u:User)
RETURN u.id AS id
