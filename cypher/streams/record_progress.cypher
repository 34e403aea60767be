// Adds one applied batch of a stream consumer (a Kafka group reading a topic) to its counters and
// records where each of its partitions stands (committed offset, high watermark, lag). The
// counters are for monitoring: a batch replayed after a crash is counted again as duplicates, never
// as applied events (those are guarded by the event markers of ingest/apply_events).
// $id: string, $group: string, $topic: string, $format: string, $now: float,
// $applied, $duplicates, $rejected, $ignored: int,
// $partitions: list<{id: string, partition: int, offset: int, high: int, lag: int}>
MERGE (s:StreamConsumer {id: $id})
ON CREATE SET s.group = $group, s.topic = $topic, s.applied = 0, s.duplicates = 0,
              s.rejected = 0, s.ignored = 0, s.batches = 0, s.created_at = $now
SET s.format = $format, s.updated_at = $now, s.applied = s.applied + $applied,
    s.duplicates = s.duplicates + $duplicates, s.rejected = s.rejected + $rejected,
    s.ignored = s.ignored + $ignored, s.batches = s.batches + 1
WITH s
UNWIND $partitions AS p
MERGE (q:StreamPartition {id: p.id})
SET q.group = s.group, q.topic = s.topic, q.partition = p.partition, q.offset = p.offset,
    q.high = p.high, q.lag = p.lag, q.updated_at = $now
RETURN count(q) AS partitions
