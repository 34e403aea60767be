// The time of the graph's latest event, any user's (seconds since the epoch; null on an empty
// graph): at or after the clock a full refresh decays edges to (their latest interaction).
// Read-only; benchmarks replay events at this time.
MATCH (u:User)
RETURN max(u.last_ts) AS ts
