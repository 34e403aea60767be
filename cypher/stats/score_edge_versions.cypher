// Score edges per kind and refresh version: after a refresh's cleanup only the active version
// is left. Read-only; health checks and tests.
MATCH ()-[r:INTERESTED_IN|INTERESTED_IN_CATEGORY|SIMILAR_TO]->()
RETURN type(r) AS kind, r.version AS version, count(*) AS edges
ORDER BY kind, version
