// Which of these (hashed) event ids are already applied. Read-only.
// $ids: list<string>
UNWIND $ids AS id
MATCH (e:Event {id: id})
RETURN e.id AS id
