// Moves the incremental watermark (epoch s) forward, never back. Idempotent.
// $ts: float
MERGE (w:Meta {key: 'incremental_watermark'})
ON CREATE SET w.ts = $ts
SET w.ts = CASE WHEN $ts > w.ts THEN $ts ELSE w.ts END
