// Audience leaf: users whose text property equals one of $values. $property is always one of the
// whitelist interest_graph.audiences.rules.TEXT_FIELDS (value_tier, segment, segment_label).
// Read-only; paged by id.
// $property: string; $values: list<string>; $after: string ("" for the first page); $limit: int
MATCH (u:User)
WHERE u.id > $after AND u[$property] IN $values
RETURN u.id AS id
ORDER BY id
LIMIT $limit
