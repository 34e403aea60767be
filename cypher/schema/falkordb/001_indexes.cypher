// Exact-match indexes for FalkorDB. Idempotent: the store treats "already indexed" as success.
// FalkorDB runs write queries one at a time, so MERGE on these keys cannot race into duplicates,
// but only once the label exists: two first MERGEs of a label that is not yet in the graph both
// create. So every label a write MERGEs is indexed here, before any write (tests/integration/
// test_store_contract.py); relationship types likewise (002_relationship_types). Its unique
// constraints are a separate GRAPH.CONSTRAINT command.
CREATE INDEX FOR (u:User) ON (u.id);
CREATE INDEX FOR (i:Item) ON (i.id);
CREATE INDEX FOR (c:Category) ON (c.name);
CREATE INDEX FOR (e:Event) ON (e.id);
CREATE INDEX FOR (s:Segment) ON (s.id);
CREATE INDEX FOR (m:Meta) ON (m.key);
CREATE INDEX FOR (u:User) ON (u.updated_at);
CREATE INDEX FOR (i:Item) ON (i.text_updated_at);
CREATE INDEX FOR (r:Refresh) ON (r.version);
CREATE INDEX FOR (a:Audience) ON (a.id);
CREATE INDEX FOR (s:StreamConsumer) ON (s.id);
CREATE INDEX FOR (q:StreamPartition) ON (q.id);
CREATE VECTOR INDEX FOR (i:Item) ON (i.embedding) OPTIONS {dimension: 64, similarityFunction: 'cosine'};
CREATE VECTOR INDEX FOR (u:User) ON (u.embedding) OPTIONS {dimension: 64, similarityFunction: 'cosine'}
