// Deletes every relationship, then every node, in chunks small enough for the transaction memory
// pool (a user may have thousands of edges). Needs auto-commit transactions. Tests and reset only.
MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 5000 ROWS;
MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 5000 ROWS
