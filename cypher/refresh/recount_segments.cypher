// Sets the size of each segment of refresh $version to its members under that version, after an
// incremental refresh moved users between segments (or added new users). Idempotent.
// $version: string
MATCH (s:Segment {version: $version})
OPTIONAL MATCH (s)<-[g:IN_SEGMENT]-(:User)
WHERE g.version = $version
WITH s, count(g) AS members
SET s.size = members
RETURN count(s) AS segments
