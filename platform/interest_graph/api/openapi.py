"""``GET /openapi.json``: the OpenAPI 3.1 contract of the API (public, no key).

Hand-written so it says exactly what the views do; ``tests/integration/test_api_fuzz.py`` checks
the running app against it with schemathesis.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from ..ingest.segment import MAX_BATCH as SEGMENT_MAX_BATCH
from ..ingest.segment import MESSAGE_TYPES
from .events import MAX_EVENTS, MAX_ITEMS
from .segments import DEFAULT_MAP_POINTS, DEFAULT_MEMBERS, MAX_MAP_POINTS, MAX_MEMBERS
from .users import DEFAULT_GRAPH_NODES, MAX_GRAPH_NODES
from .validation import DEFAULT_K, MAX_ID_LENGTH, MAX_K

bp = Blueprint("openapi", __name__)

API_VERSION = "1.0.0"


def _nullable(kind: str | list[str]) -> dict[str, Any]:
    kinds = [kind] if isinstance(kind, str) else list(kind)
    return {"type": [*kinds, "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props,
            "required": list(props) if required is None else required}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Bad query parameter or malformed JSON (the field is named).",
            401: "Missing or invalid API key.", 403: "The key lacks the needed scope.",
            404: "Unknown user, item, segment or task.", 413: "The request is too large.",
            415: "The body is not application/json.", 422: "A body value is invalid.",
            503: "The graph store is unavailable."}
    out: dict[str, Any] = {}
    for c in codes:
        out[str(c)] = _json(_ref("Error"), text[c])
    out["default"] = _json(_ref("Error"), "Any other error, with the same body.")
    return out


def _int_param(name: str, default: int, minimum: int, maximum: int, doc: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": doc,
            "schema": {"type": "integer", "minimum": minimum, "maximum": maximum,
                       "default": default}}


def _path(name: str, doc: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": doc,
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH}}


USER = _path("user_id", "The application's original user id (pseudonymised by the API).")
K = _int_param("k", DEFAULT_K, 1, MAX_K, "How many results.")
READ: list[dict[str, list[str]]] = [{"ApiKey": []}, {"Bearer": []}]

SCHEMAS: dict[str, Any] = {
    "Error": _obj({"error": _obj({"code": {"type": "string"}, "message": {"type": "string"},
                                  "field": _nullable("string")})}),
    "Recommendation": _obj({"item": {"type": "string"}, "title": _nullable("string"),
                            "score": {"type": "number"}, "rank": {"type": "integer"},
                            "reason": {"type": "string"}}),
    "Recommendations": _obj({"user": {"type": "string"}, "version": _nullable("string"),
                             "fallback": {"type": "boolean"},
                             "items": {"type": "array", "items": _ref("Recommendation")}}),
    "Interests": _obj({"user": {"type": "string"}, "version": _nullable("string"),
                       "categories": {"type": "array", "items": _obj(
                           {"category": {"type": "string"}, "score": {"type": "number"}})}}),
    "UserSegment": _obj({
        "user": {"type": "string"}, "version": _nullable("string"),
        "segment": {"oneOf": [{"type": "null"}, _obj({
            "id": {"type": "string"}, "label": _nullable("string"),
            "size": _nullable("integer"),
            "top_categories": {"type": "array", "items": {"type": "string"}}})]},
        "distance": _nullable("number"), "previous": _nullable("string"),
        "why": {"oneOf": [{"type": "null"}, _ref("SegmentWhy")]},
        "history": {"type": "array", "items": _obj({
            "version": _nullable("string"), "segment_id": {"type": "string"},
            "label": _nullable("string"), "assigned_at": _nullable("number")})},
    }),
    "UserValue": _obj({
        "user": {"type": "string"}, "version": _nullable("string"),
        "recency_days": _nullable("number"), "frequency": _nullable("number"),
        "monetary": _nullable("number"), "rfm_score": _nullable(["string", "number"]),
        "tier": _nullable("string"), "expected_purchases": _nullable("number"),
        "expected_value": _nullable("number"), "p_alive": _nullable("number"),
        "churn_risk": _nullable("number"), "churn_basis": _nullable("string"),
    }),
    "UserGraph": _obj({
        "user": {"type": "string"}, "depth": {"type": "integer", "enum": [1, 2]},
        "nodes": {"type": "array", "items": _obj({
            "id": {"type": "string"},
            "type": {"type": "string", "enum": ["user", "item", "category", "segment"]},
            "label": _nullable("string")})},
        "edges": {"type": "array", "items": _obj({
            "source": {"type": "string"}, "target": {"type": "string"},
            "type": {"type": "string"}, "weight": _nullable("number")})},
    }),
    "Erasure": _obj({
        "user": {"type": "string"}, "existed": {"type": "boolean"},
        "removed": _obj({k: {"type": "integer", "minimum": 0} for k in (
            "user_node", "interactions", "interests", "category_interests",
            "segment_memberships")}),
        "note": {"type": "string"},
    }),
    "SimilarItems": _obj({
        "item": {"type": "string"}, "version": _nullable("string"),
        "source": {"type": "string", "enum": ["graph", "vector"]},
        "items": {"type": "array", "items": _obj({
            "item": {"type": "string"}, "title": _nullable("string"),
            "score": {"type": "number"}, "rank": {"type": "integer"}})},
    }),
    "SegmentWhy": _obj({
        "categories": {"type": "array", "items": _obj({"category": {"type": "string"},
                                                       "share": {"type": "number"},
                                                       "label": {"type": "string"}})},
        "segment_categories": {"type": "array", "items": {"type": "string"}},
        "segment_labels": {"type": "array", "items": {"type": "string"}},
        "shared": {"type": "array", "items": {"type": "string"}},
        "tier": _nullable("string"), "tier_share": _nullable("number"),
        "segment_tier": _nullable("string"), "segment_tier_share": _nullable("number"),
        "text": {"type": "string"},
    }),
    "Behaviour": {"oneOf": [{"type": "null"}, _obj({
        k: _nullable("number") for k in ("recency_days", "frequency", "order_value",
                                         "items_per_order")})]},
    "Segment": _obj({
        "id": {"type": "string"}, "version": _nullable("string"), "label": _nullable("string"),
        "size": {"type": "integer"},
        "top_categories": {"type": "array", "items": {"type": "string"}},
        "tiers": {"type": "object", "additionalProperties": {"type": "integer"}},
        "avg_expected_value": _nullable("number"), "avg_churn_risk": _nullable("number"),
        "silhouette": _nullable("number"), "created_at": _nullable("number"),
        "active": {"type": "boolean"}, "share": _nullable("number"),
        "categories": {"type": "array", "items": _obj({
            "name": {"type": "string"}, "share": _nullable("number"),
            "lift": _nullable("number"), "label": {"type": "string"}})},
        "brief": _nullable("string"), "base_expected_value": _nullable("number"),
        "base_churn_risk": _nullable("number"), "churn_basis": _nullable("string"),
        "churn_method": _nullable("string"), "behaviour": _ref("Behaviour"),
        "base_behaviour": _ref("Behaviour"), "distance_limit": _nullable("number"),
        "warm_start": _nullable("boolean"),
    }),
    "Drift": _obj({
        "version": _nullable("string"), "users": {"type": "integer"},
        "drifted": {"type": "integer"}, "share": {"type": "number"},
        "limit": {"type": "number"}, "due": {"type": "boolean"},
    }),
    "Segments": _obj({"version": _nullable("string"),
                      "segments": {"type": "array", "items": _ref("Segment")},
                      "drift": _ref("Drift")}),
    "Transitions": _obj({
        "version": _nullable("string"), "previous": _nullable("string"),
        "moves": {"type": "array", "items": _obj({
            "from_id": {"type": "string"}, "from_label": _nullable("string"),
            "from_index": _nullable("integer"), "to_id": {"type": "string"},
            "to_label": _nullable("string"), "to_index": _nullable("integer"),
            "users": {"type": "integer"}})},
        "moved": {"type": "integer"}, "total": {"type": "integer"},
    }),
    "Members": _obj({
        "segment": {"type": "string"},
        "members": {"type": "array", "items": _obj({
            "user": {"type": "string"}, "distance": _nullable("number"),
            "tier": _nullable("string")})},
        "next_cursor": _nullable("string"),
    }),
    "SegmentMap": _obj({"points": {"type": "array", "items": _obj({
        "user": {"type": "string"}, "x": {"type": "number"}, "y": {"type": "number"},
        "segment": {"type": "string"}})}}),
    "Event": {
        "type": "object", "required": ["event_id", "user_id", "type", "timestamp"],
        "properties": {
            "event_id": {"type": ["string", "integer"]}, "user_id": {"type": ["string", "integer"]},
            "item_id": {"type": ["string", "integer", "null"]},
            "type": {"type": "string", "enum": ["view", "click", "search", "wishlist", "cart",
                                                "purchase", "return", "review", "rating"]},
            "timestamp": {"type": ["string", "number"],
                          "description": "ISO-8601 (naive = UTC) or seconds since the epoch"},
            "quantity": {"type": "number", "exclusiveMinimum": 0},
            "price": {"type": "number", "minimum": 0},
            "rating": {"type": "number", "minimum": 0, "maximum": 5},
            "text": {"type": "string"},
        },
    },
    "Item": {
        "type": "object", "required": ["item_id"],
        "properties": {
            "item_id": {"type": ["string", "integer"]}, "title": {"type": "string"},
            "description": {"type": "string"}, "price": {"type": "number", "minimum": 0},
            "categories": {"oneOf": [{"type": "array", "items": {"type": "string"}},
                                     {"type": "string"}]},
        },
    },
    "EventBatch": {
        "type": "object",
        "properties": {
            "events": {"type": "array", "maxItems": MAX_EVENTS, "items": _ref("Event")},
            "items": {"type": "array", "maxItems": MAX_ITEMS, "items": _ref("Item")},
        },
    },
    "EventBatchResult": _obj({
        "accepted": {"type": "integer"}, "duplicates": {"type": "integer"},
        "rejected": {"type": "integer"}, "items_upserted": {"type": "integer"},
        "errors": {"type": "array", "items": _obj({
            "kind": {"type": "string", "enum": ["event", "item"]},
            "index": {"type": "integer"}, "field": {"type": "string"},
            "reason": {"type": "string"}})},
        "task_id": {"type": "string"},
    }, required=["accepted", "duplicates", "rejected", "items_upserted", "errors"]),
    "SegmentMessage": {
        "type": "object",
        "description": "A Segment call; see docs/streams.md for the e-commerce events it maps",
        "properties": {
            "type": {"type": "string", "enum": sorted(MESSAGE_TYPES)},
            "event": {"type": "string"}, "messageId": {"type": ["string", "integer"]},
            "userId": {"type": ["string", "integer", "null"]},
            "anonymousId": {"type": ["string", "integer", "null"]},
            "timestamp": {"type": "string", "description": "ISO-8601"},
            "properties": {"type": "object"},
        },
    },
    "SegmentPayload": {"anyOf": [
        _ref("SegmentMessage"),
        {"type": "object", "required": ["batch"], "properties": {
            "batch": {"type": "array", "maxItems": SEGMENT_MAX_BATCH,
                      "items": _ref("SegmentMessage")}}},
    ]},
    "SegmentResult": _obj({
        "messages": {"type": "integer"}, "accepted": {"type": "integer"},
        "duplicates": {"type": "integer"}, "rejected": {"type": "integer"},
        "ignored": {"type": "object", "additionalProperties": {"type": "integer"}},
        "items_upserted": {"type": "integer"},
        "errors": {"type": "array", "items": _obj({
            "index": {"type": "integer"}, "field": {"type": "string"},
            "reason": {"type": "string"}})},
    }, required=["messages", "accepted", "duplicates", "rejected", "ignored", "items_upserted",
                 "errors"]),
    "RefreshRequest": _obj({"kind": {"type": "string", "enum": ["full", "incremental"]}}),
    "Enqueued": _obj({"task_id": {"type": "string"},
                      "kind": {"type": "string", "enum": ["full", "incremental"]}}),
    "Task": _obj({
        "id": {"type": "string"}, "state": {"type": "string"}, "stage": _nullable("string"),
        "percent": _nullable("number"), "result": _nullable("object"),
        "error": _nullable("string"), "done": {"type": "boolean"},
    }),
    "Health": _obj({"status": {"type": "string", "enum": ["ok", "unavailable"]},
                    "checks": {"type": "object",
                               "additionalProperties": {"type": "string",
                                                        "enum": ["ok", "unavailable"]}}}),
}

# -- audiences (api/audiences.py) --------------------------------------------------------------
_RATE = _obj({"count": {"type": "integer"}, "n": {"type": "integer"}, "rate": _nullable("number"),
              "low": _nullable("number"), "high": _nullable("number")})
_DIFF = _obj({"diff": _nullable("number"), "low": _nullable("number"), "high": _nullable("number"),
              "p_value": _nullable("number")})
_NAMES = {"type": "array", "items": {"type": "string"}}
SCHEMAS.update({
    "Audience": _obj({
        "id": {"type": "string"}, "name": {"type": "string"}, "rule": {"type": "object"},
        "arms": {"type": "array", "items": _obj({
            "name": {"type": "string"}, "weight": {"type": "number"},
            "scorer": _nullable("string"), "members": {"type": "integer"}})},
        "target": _obj({"categories": _NAMES, "items": _NAMES}),
        "experiment_key": {"type": "string"}, "recommendations": {"type": "integer"},
        "status": {"type": "string", "enum": ["pending", "active"]}, "size": {"type": "integer"},
        "created_at": {"type": "number"}, "started_at": _nullable("number"),
        "evaluated_at": _nullable("number"), "version": _nullable("string"),
        "refresh_version": _nullable("string"),
        "history": {"type": "array", "items": _obj({
            "version": {"type": "string"}, "size": {"type": "integer"},
            "evaluated_at": {"type": "number"}})},
    }),
    "Audiences": _obj({"audiences": {"type": "array", "items": _ref("Audience")}}),
    "AudienceRequest": {
        "type": "object", "required": ["name", "rule"], "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "rule": {"type": "object", "description": "all/any/not of conditions {field, op, "
                     "value}; see docs/audiences.md and GET /v1/audiences/fields"},
            "arms": {"type": "array", "minItems": 1, "maxItems": 10, "items": {
                "type": "object", "required": ["name", "weight"], "properties": {
                    "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,31}$"},
                    "weight": {"type": "number", "exclusiveMinimum": 0},
                    "scorer": {"type": "string", "enum": ["model", "popular"]}}}},
            "experiment_key": {"type": "string", "minLength": 1, "maxLength": 128},
            "target": {"type": "object", "properties": {"categories": _NAMES, "items": _NAMES}},
            "recommendations": {"type": "integer", "minimum": 1, "maximum": 50},
        },
    },
    "AudienceCount": _obj({"size": {"type": "integer", "minimum": 0}}),
    "AudienceFields": _obj({
        "fields": {"type": "array", "items": {"type": "object", "required": ["name", "kind", "ops"]}},
        "scorers": _NAMES}),
    "AudienceDeleted": _obj({"id": {"type": "string"}, "deleted": {"type": "boolean"},
                             "memberships": {"type": "integer"}}),
    "ExperimentReport": _obj({
        "audience": {"type": "string"}, "name": {"type": "string"},
        "experiment_key": {"type": "string"}, "started_at": _nullable("number"),
        "measured_at": {"type": "number"}, "cohort": {"type": "integer"},
        "reference": _nullable("string"),
        "arms": {"type": "array", "items": _obj({
            "arm": {"type": "string"}, "members": {"type": "integer"}, "conversion": _RATE,
            "target_conversion": {"oneOf": [{"type": "null"}, _RATE]},
            "revenue_per_member": _obj({"n": {"type": "integer"}, "mean": _nullable("number"),
                                        "low": _nullable("number"), "high": _nullable("number")}),
            "hit_rate": {"oneOf": [{"type": "null"}, _RATE]},
            "members_with_hit": {"oneOf": [{"type": "null"}, _RATE]}})},
        "comparisons": {"type": "array", "items": _obj({
            "arm": {"type": "string"}, "reference": {"type": "string"}, "conversion": _DIFF,
            "target_conversion": {"oneOf": [{"type": "null"}, _DIFF]},
            "revenue_per_member": _DIFF, "hit_rate": {"oneOf": [{"type": "null"}, _DIFF]}})},
    }),
})


def _audience_paths() -> dict[str, Any]:
    audience = _path("audience_id", "Audience id.")
    text = {"description": "The export, one member per row",
            "content": {m: {"schema": {"type": "string"}} for m in ("text/csv",
                                                                    "application/x-ndjson")}}
    return {
        "/v1/audiences": {
            **_get("Saved audiences, newest first", "Audiences", [], (401, 403, 503),
                   "listAudiences"),
            "post": {
                "operationId": "createAudience",
                "summary": "Validate, save and evaluate an audience (write scope); its first "
                           "evaluation starts the experiment. A bad rule is a 422 naming its place.",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("AudienceRequest")}}},
                "responses": {"201": _json(_ref("Audience"), "Created"),
                              **_errors(400, 401, 403, 413, 415, 422, 503)}}},
        "/v1/audiences/fields": _get("Fields and operators a rule may use", "AudienceFields", [],
                                     (401, 403), "getAudienceFields"),
        "/v1/audiences/count": _get(
            "How many users a rule selects now (nothing is written)", "AudienceCount",
            [{"name": "rule", "in": "query", "required": True, "description": "the rule as JSON",
              "schema": {"type": "string", "maxLength": 8000}}],
            (400, 401, 403, 503), "countAudience"),
        "/v1/audiences/{audience_id}": {
            **_get("One audience", "Audience", [audience], (400, 401, 403, 404, 503),
                   "getAudience"),
            "delete": {
                "operationId": "deleteAudience",
                "summary": "Delete an audience and its memberships (write scope)",
                "parameters": [audience],
                "responses": {"200": _json(_ref("AudienceDeleted"), "Deleted"),
                              **_errors(400, 401, 403, 404, 503)}}},
        "/v1/audiences/{audience_id}/export": {"get": {
            "operationId": "exportAudience",
            "summary": "Current members (graph id, arm, top items and reasons), streamed",
            "parameters": [audience,
                           {"name": "format", "in": "query", "required": False,
                            "schema": {"type": "string", "enum": ["csv", "jsonl"],
                                       "default": "csv"}},
                           _int_param("reasons", 3, 0, 20, "Top interests per member.")],
            "responses": {"200": text, **_errors(400, 401, 403, 404, 503)}}},
        "/v1/audiences/{audience_id}/report": _get(
            "The experiment's outcome per arm since it started, with intervals and p-values",
            "ExperimentReport", [audience], (400, 401, 403, 404, 503), "getExperimentReport"),
    }



def _get(summary: str, schema: str, params: list[dict[str, Any]], errors: tuple[int, ...],
         op_id: str) -> dict[str, Any]:
    return {"get": {"operationId": op_id, "summary": summary, "parameters": params,
                    "responses": {"200": _json(_ref(schema), "OK"), **_errors(*errors)}}}


def document() -> dict[str, Any]:
    """The OpenAPI document."""
    user_errors = (400, 401, 403, 404, 503)
    paths: dict[str, Any] = {
        "/v1/users/{user_id}/recommendations": _get(
            "Top-k recommended items (popular items with fallback=true for users without scores)",
            "Recommendations", [USER, K], user_errors, "getRecommendations"),
        "/v1/users/{user_id}/interests": _get(
            "Category interests under the active refresh", "Interests", [USER, K], user_errors,
            "getInterests"),
        "/v1/users/{user_id}/segment": _get(
            "Active segment, why the user is in it, distance and history", "UserSegment",
            [USER], user_errors, "getUserSegment"),
        "/v1/users/{user_id}/value": _get(
            "Customer value: RFM, tier, expected value, churn risk", "UserValue", [USER],
            user_errors, "getUserValue"),
        "/v1/users/{user_id}/graph": _get(
            "Bounded neighbourhood for visualisation", "UserGraph",
            [USER, _int_param("depth", 1, 1, 2, "1: items and segment; 2: plus categories"),
             _int_param("limit", DEFAULT_GRAPH_NODES, 1, MAX_GRAPH_NODES, "Most nodes.")],
            user_errors, "getUserGraph"),
        "/v1/users/{user_id}": {"delete": {
            "operationId": "eraseUser",
            "summary": "Erase a user: node, edges, scores, memberships, text and embeddings. "
                       "Idempotent: a repeated call returns 200 with existed=false.",
            "parameters": [USER],
            "responses": {"200": _json(_ref("Erasure"), "What was removed"),
                          **_errors(400, 401, 403, 503)}}},
        "/v1/items/{item_id}/similar": _get(
            "Similar items (active refresh's SIMILAR_TO, or source=vector for the index)",
            "SimilarItems",
            [_path("item_id", "Item id."), K,
             {"name": "source", "in": "query", "required": False,
              "schema": {"type": "string", "enum": ["graph", "vector"], "default": "graph"}}],
            user_errors, "getSimilarItems"),
        "/v1/segments": _get("Segments of the active refresh with their briefs, and the drift "
                             "check", "Segments", [], (401, 403, 503), "listSegments"),
        "/v1/segments/transitions": _get(
            "Users moved between segments of the previous and the active refresh",
            "Transitions", [], (401, 403, 503), "getSegmentTransitions"),
        "/v1/segments/map": _get(
            "Users' 2-D map positions", "SegmentMap",
            [_int_param("limit", DEFAULT_MAP_POINTS, 1, MAX_MAP_POINTS, "Most points.")],
            (400, 401, 403, 503), "getSegmentMap"),
        "/v1/segments/{segment_id}": _get(
            "One segment's profile and brief", "Segment", [_path("segment_id", "Segment id.")],
            user_errors, "getSegment"),
        "/v1/segments/{segment_id}/members": _get(
            "A page of members (graph ids)", "Members",
            [_path("segment_id", "Segment id."),
             _int_param("limit", DEFAULT_MEMBERS, 1, MAX_MEMBERS, "Page size."),
             {"name": "cursor", "in": "query", "required": False,
              "description": "next_cursor of the previous page",
              "schema": {"type": "string", "maxLength": MAX_ID_LENGTH}}],
            user_errors, "listSegmentMembers"),
        "/v1/events": {"post": {
            "operationId": "postEvents",
            "summary": "Apply a batch of events (and items) exactly once; durable before the 202",
            "parameters": [{"name": "refresh", "in": "query", "required": False,
                            "description": "enqueue an incremental refresh after the write",
                            "schema": {"type": "string", "enum": ["incremental"]}}],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("EventBatch")}}},
            "responses": {"202": _json(_ref("EventBatchResult"), "Applied"),
                          **_errors(400, 401, 403, 413, 415, 422, 503)}}},
        "/v1/sources/segment": {"post": {
            "operationId": "postSegment",
            "summary": "Apply Segment e-commerce events (one message or a batch) exactly once",
            "parameters": [{"name": "items", "in": "query", "required": False,
                            "description": "false: ignore the products' names, categories, prices",
                            "schema": {"type": "string", "enum": ["true", "false"]}}],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("SegmentPayload")}}},
            "responses": {"202": _json(_ref("SegmentResult"), "Applied"),
                          **_errors(400, 401, 403, 413, 415, 422, 503)}}},
        "/v1/refresh": {"post": {
            "operationId": "postRefresh", "summary": "Enqueue a full or incremental refresh",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("RefreshRequest")}}},
            "responses": {"202": _json(_ref("Enqueued"), "Queued"),
                          **_errors(400, 401, 403, 415, 422, 503)}}},
        "/v1/tasks/{task_id}": _get(
            "State of a task this API enqueued", "Task",
            [{"name": "task_id", "in": "path", "required": True,
              "schema": {"type": "string", "minLength": 1}}],
            (401, 403, 404, 503), "getTask"),
        **_audience_paths(),
        "/health": {"get": {
            "operationId": "health", "summary": "Graph store and broker reachable", "security": [],
            "responses": {"200": _json(_ref("Health"), "Healthy"),
                          "503": _json(_ref("Health"), "Unhealthy")}}},
        "/metrics": {"get": {
            "operationId": "metrics", "summary": "Prometheus metrics of this process",
            "responses": {"200": {"description": "Prometheus text format",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}},
                          **_errors(401, 403)}}},
        "/openapi.json": {"get": {
            "operationId": "openapi", "summary": "This document", "security": [],
            "responses": {"200": _json({"type": "object"}, "The OpenAPI document")}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Interest Graph API", "version": API_VERSION,
                 "description": "User interests, recommendations, segments and customer value "
                                "from the interest graph. See docs/api.md."},
        "servers": [{"url": "/"}],
        "security": READ,
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                           "description": "GET needs the read scope; POST and DELETE write."},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }


@bp.get("/openapi.json")
def spec() -> dict[str, Any]:
    return document()
