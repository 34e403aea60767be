// Creates an audience node from its validated definition, as 'pending' until its first
// membership is activated. Idempotent (MERGE on id; a repeat changes nothing).
// $id, $audience_name, $rule, $arms, $target (JSON text), $experiment_key: string; $now: float
MERGE (a:Audience {id: $id})
ON CREATE SET a.name = $audience_name, a.rule = $rule, a.arms = $arms, a.target = $target,
    a.experiment_key = $experiment_key, a.created_at = $now, a.status = 'pending', a.size = 0
RETURN a.id AS id
