// Every stream consumer's counters and its partitions' offsets and lag, for `interestgraph stats`
// and /metrics. Read-only.
MATCH (s:StreamConsumer)
OPTIONAL MATCH (q:StreamPartition)
WHERE q.group = s.group AND q.topic = s.topic
WITH s, q ORDER BY q.partition
RETURN s.group AS consumer_group, s.topic AS topic, s.format AS format, s.applied AS applied,
       s.duplicates AS duplicates, s.rejected AS rejected, s.ignored AS ignored,
       s.batches AS batches, s.updated_at AS updated_at,
       collect(CASE WHEN q IS NULL THEN NULL
               ELSE {partition: q.partition, offset: q.offset, high: q.high, lag: q.lag,
                     updated_at: q.updated_at} END) AS partitions
ORDER BY consumer_group, topic
