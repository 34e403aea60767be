// The state of every index of the graph: 'OPERATIONAL' once built, '[Indexing] n/m: UNDER
// CONSTRUCTION' while (re)built in the background. Read-only. No parameters.
CALL db.indexes() YIELD label, status
RETURN label, status
