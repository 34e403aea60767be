// The time of the graph's latest event (seconds since the epoch; null on an empty graph): the
// clock a full refresh decays edges to. Read-only; benchmarks replay events at this time.
MATCH (u:User)
RETURN max(u.last_ts) AS ts
