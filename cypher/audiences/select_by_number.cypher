// Audience leaf: users whose numeric property lies between $lo and $hi (each bound inclusive unless
// $lo_open / $hi_open; a null bound is unbounded); users without the property never match.
// $property names the property and is always one of the whitelist
// interest_graph.audiences.rules.NUMBER_FIELDS, never text from a request. Read-only; paged by id.
// $property: string; $lo, $hi: float or null; $lo_open, $hi_open: bool;
// $after: string ("" for the first page); $limit: int
MATCH (u:User)
WHERE u.id > $after AND u[$property] IS NOT NULL
  AND ($lo IS NULL OR u[$property] > $lo OR (NOT $lo_open AND u[$property] = $lo))
  AND ($hi IS NULL OR u[$property] < $hi OR (NOT $hi_open AND u[$property] = $hi))
RETURN u.id AS id
ORDER BY id
LIMIT $limit
