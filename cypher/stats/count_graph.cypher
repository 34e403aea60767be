// Counts of the main node and edge kinds, for load summaries and health. Read-only.
OPTIONAL MATCH (u:User) WITH count(u) AS users
OPTIONAL MATCH (i:Item) WITH users, count(i) AS items
OPTIONAL MATCH (c:Category) WITH users, items, count(c) AS categories
OPTIONAL MATCH (:User)-[r:INTERACTED]->(:Item)
WITH users, items, categories, count(r) AS edges,
     sum(r.n_view + r.n_click + r.n_search + r.n_wishlist + r.n_cart + r.n_purchase + r.n_return
         + r.n_review + r.n_rating) AS edge_events,
     sum(r.revenue) AS revenue, sum(r.weight) AS weight
OPTIONAL MATCH (e:Event)
RETURN users, items, categories, edges, edge_events, revenue, weight, count(e) AS events
