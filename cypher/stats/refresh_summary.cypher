// What the active refresh holds, for health checks and tests. Read-only.
MATCH (m:Meta {key: 'active_refresh'})
OPTIONAL MATCH (s:Segment {version: m.version})
WITH m, count(s) AS segments, sum(s.size) AS segment_members
OPTIONAL MATCH (:User)-[r:INTERESTED_IN]->(:Item)
WHERE r.version = m.version
WITH m, segments, segment_members, count(r) AS interests
OPTIONAL MATCH (:User)-[c:INTERESTED_IN_CATEGORY]->(:Category)
WHERE c.version = m.version
WITH m, segments, segment_members, interests, count(c) AS category_interests
OPTIONAL MATCH (:Item)-[x:SIMILAR_TO]->(:Item)
WHERE x.version = m.version
WITH m, segments, segment_members, interests, category_interests, count(x) AS similar
OPTIONAL MATCH (u:User)-[g:IN_SEGMENT]->(:Segment)
WHERE g.version = m.version
WITH m, segments, segment_members, interests, category_interests, similar,
     count(g) AS memberships, count(DISTINCT u) AS segmented_users
OPTIONAL MATCH (e:User) WHERE e.embedding IS NOT NULL
WITH m, segments, segment_members, interests, category_interests, similar, memberships,
     segmented_users, count(e) AS users_embedded
OPTIONAL MATCH (v:User) WHERE v.value_tier IS NOT NULL
WITH m, segments, segment_members, interests, category_interests, similar, memberships,
     segmented_users, users_embedded, count(v) AS users_valued
OPTIONAL MATCH (i:Item) WHERE i.embedding IS NOT NULL
RETURN m.version AS version, segments, segment_members, interests, category_interests, similar,
       memberships, segmented_users, users_embedded, users_valued, count(i) AS items_embedded
