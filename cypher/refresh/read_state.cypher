// The active refresh and the incremental watermark. Read-only.
OPTIONAL MATCH (a:Meta {key: 'active_refresh'})
OPTIONAL MATCH (w:Meta {key: 'incremental_watermark'})
RETURN a.version AS version, a.model_version AS model_version, a.completed_at AS completed_at,
       a.model_path AS model_path, w.ts AS watermark
