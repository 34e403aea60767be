// Deletes every node and relationship, in chunks (needs an auto-commit transaction). Tests only.
MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS
