// Every user's graph id (pseudonymised). Read-only; tests and exports.
MATCH (u:User)
RETURN u.id AS id
ORDER BY id
