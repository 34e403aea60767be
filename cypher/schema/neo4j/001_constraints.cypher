// Uniqueness constraints (each backs an index) and range indexes for Neo4j 5. Idempotent.
CREATE CONSTRAINT user_id IF NOT EXISTS FOR (u:User) REQUIRE u.id IS UNIQUE;
CREATE CONSTRAINT item_id IF NOT EXISTS FOR (i:Item) REQUIRE i.id IS UNIQUE;
CREATE CONSTRAINT category_name IF NOT EXISTS FOR (c:Category) REQUIRE c.name IS UNIQUE;
CREATE CONSTRAINT event_id IF NOT EXISTS FOR (e:Event) REQUIRE e.id IS UNIQUE;
CREATE CONSTRAINT segment_id IF NOT EXISTS FOR (s:Segment) REQUIRE s.id IS UNIQUE;
CREATE CONSTRAINT meta_key IF NOT EXISTS FOR (m:Meta) REQUIRE m.key IS UNIQUE;
CREATE INDEX user_updated_at IF NOT EXISTS FOR (u:User) ON (u.updated_at);
CREATE INDEX item_text_updated_at IF NOT EXISTS FOR (i:Item) ON (i.text_updated_at);
CREATE CONSTRAINT refresh_version IF NOT EXISTS FOR (r:Refresh) REQUIRE r.version IS UNIQUE;
CREATE CONSTRAINT audience_id IF NOT EXISTS FOR (a:Audience) REQUIRE a.id IS UNIQUE;
CREATE CONSTRAINT stream_consumer_id IF NOT EXISTS FOR (s:StreamConsumer) REQUIRE s.id IS UNIQUE;
CREATE CONSTRAINT stream_partition_id IF NOT EXISTS FOR (q:StreamPartition) REQUIRE q.id IS UNIQUE;
CREATE VECTOR INDEX item_embedding IF NOT EXISTS FOR (i:Item) ON i.embedding
  OPTIONS {indexConfig: {`vector.dimensions`: 64, `vector.similarity_function`: 'cosine',
                        `vector.quantization.enabled`: false}};
CREATE VECTOR INDEX user_embedding IF NOT EXISTS FOR (u:User) ON u.embedding
  OPTIONS {indexConfig: {`vector.dimensions`: 64, `vector.similarity_function`: 'cosine',
                        `vector.quantization.enabled`: false}}
