//! The OpenAPI 3.0 document of the REST API at `/api/openapi.json`.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

pub(super) async fn openapi() -> Response {
    Json(openapi_document()).into_response()
}

/// The OpenAPI 3.0 description of the REST API (hand-built; tests check that it lists
/// every route in [`super::ROUTES`]).
fn openapi_document() -> Value {
    let op = || {
        json!({ "name": "object", "in": "path", "required": true,
        "schema": { "type": "string", "enum": ["contacts", "companies", "deals", "invoices"] },
        "description": "Object type (HubSpot ids 0-1, 0-2, 0-3, 0-53 work too)." })
    };
    let ip =
        || json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } });
    let err = |d: &str| json!({ "description": d, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let ok = |d: &str, schema: &str| json!({ "description": d, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
    let body = |schema: &str| json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
    let std_errors = |mut responses: Value| {
        responses["400"] =
            err("Invalid input (category VALIDATION_ERROR), one entry per field in `errors`.");
        responses["401"] = err("Missing or invalid token (INVALID_AUTHENTICATION).");
        responses["404"] = err("Not found in your portal (OBJECT_NOT_FOUND); other portals' records are not found either.");
        responses
    };
    let q = |name: &str, d: &str| json!({ "name": name, "in": "query", "required": false, "schema": { "type": "string" }, "description": d });
    let paths = json!({
        "/api/crm/v3/objects/{object}": {
            "get": { "summary": "List records in id order (keyset paging)", "operationId": "listObjects",
                "parameters": [op(), q("limit", "1-100, default 10"), q("after", "paging.next.after of the previous page"),
                    q("properties", "comma-separated names; * for all"), q("archived", "true: only archived records"),
                    q("associations", "comma-separated object types to include associated ids for")],
                "responses": std_errors(json!({ "200": ok("A page", "CollectionResponse") })) },
            "post": { "summary": "Create a record", "operationId": "createObject", "parameters": [op()],
                "requestBody": body("PropertiesInput"),
                "responses": std_errors(json!({ "201": ok("Created", "SimplePublicObject"), "409": err("A contact with this email exists (CONFLICT).") })) }
        },
        "/api/crm/v3/objects/{object}/{id}": {
            "get": { "summary": "Read a record", "operationId": "readObject",
                "parameters": [op(), ip(), q("properties", "comma-separated names; * for all"),
                    q("archived", "true: archived records are returned too"), q("idProperty", "email: the id is a contact's email"),
                    q("associations", "comma-separated object types")],
                "responses": std_errors(json!({ "200": ok("The record", "SimplePublicObject") })) },
            "patch": { "summary": "Update some properties (partial); null or \"\" clears one", "operationId": "updateObject",
                "parameters": [op(), ip()], "requestBody": body("PropertiesInput"),
                "responses": std_errors(json!({ "200": ok("The record", "SimplePublicObject"), "409": err("Archived, or the email is taken.") })) },
            "delete": { "summary": "Archive (soft delete)", "operationId": "archiveObject", "parameters": [op(), ip()],
                "responses": std_errors(json!({ "204": { "description": "Archived" } })) }
        },
        "/api/crm/v3/objects/{object}/{id}/restore": {
            "post": { "summary": "Restore an archived record (Tandem extension)", "operationId": "restoreObject",
                "parameters": [op(), ip()], "responses": std_errors(json!({ "200": ok("The record", "SimplePublicObject") })) }
        },
        "/api/crm/v3/objects/{object}/search": {
            "post": { "summary": "Search with filter groups (OR of ANDs), a sort and paging", "operationId": "searchObjects",
                "parameters": [op()], "requestBody": body("SearchRequest"),
                "responses": std_errors(json!({ "200": ok("Matching records; total counts at most 10000", "SearchResponse") })) }
        },
        "/api/crm/v3/objects/{object}/batch/create": {
            "post": { "summary": "Create up to 100 records (all or none)", "operationId": "batchCreate", "parameters": [op()],
                "requestBody": body("BatchCreateInput"), "responses": std_errors(json!({ "201": ok("Created", "BatchResponse") })) }
        },
        "/api/crm/v3/objects/{object}/batch/read": {
            "post": { "summary": "Read up to 100 records by id (or by email with idProperty=email)", "operationId": "batchRead",
                "parameters": [op()], "requestBody": body("BatchReadInput"),
                "responses": std_errors(json!({ "200": ok("All found", "BatchResponse"), "207": ok("Some not found: see errors", "BatchResponse") })) }
        },
        "/api/crm/v3/objects/{object}/batch/update": {
            "post": { "summary": "Update up to 100 records (all or none)", "operationId": "batchUpdate", "parameters": [op()],
                "requestBody": body("BatchUpdateInput"), "responses": std_errors(json!({ "200": ok("Updated", "BatchResponse") })) }
        },
        "/api/crm/v3/objects/{object}/batch/upsert": {
            "post": { "summary": "Create or update up to 100 contacts by email (idProperty: email); each result says `new`", "operationId": "batchUpsert",
                "parameters": [op()], "requestBody": body("BatchUpdateInput"),
                "responses": std_errors(json!({ "200": ok("Written", "BatchResponse") })) }
        },
        "/api/crm/v4/objects/{object}/{id}/associations/default/{toObject}/{toId}": {
            "put": { "summary": "Associate two records with the default type (v4)", "operationId": "associateDefault",
                "parameters": [op(), ip(), { "name": "toObject", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "toId", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": std_errors(json!({ "200": { "description": "Associated" } })) }
        },
        "/api/crm/v4/objects/{object}/{id}/associations/{toObject}/{toId}": {
            "delete": { "summary": "Remove every association between two records (v4)", "operationId": "dissociateAll",
                "parameters": [op(), ip(), { "name": "toObject", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "toId", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": std_errors(json!({ "204": { "description": "Removed (or there was none)" } })) }
        },
        "/api/crm/v4/associations/{object}/{toObject}/batch/read": {
            "post": { "summary": "Associated ids of up to 100 records (v4); records with none are left out", "operationId": "batchReadAssociations",
                "parameters": [op(), { "name": "toObject", "in": "path", "required": true, "schema": { "type": "string" } }],
                "requestBody": body("BatchIdsInput"), "responses": std_errors(json!({ "200": { "description": "Associations" } })) }
        },
        "/api/account-info/v3/details": {
            "get": { "summary": "The portal the token reaches (portalId)", "operationId": "accountDetails",
                "responses": std_errors(json!({ "200": { "description": "Account details" } })) }
        },
        "/api/crm/v3/objects/{object}/batch/archive": {
            "post": { "summary": "Archive up to 100 records (missing ids are ignored)", "operationId": "batchArchive",
                "parameters": [op()], "requestBody": body("BatchIdsInput"),
                "responses": std_errors(json!({ "204": { "description": "Archived" } })) }
        },
        "/api/crm/v3/objects/{object}/{id}/associations/{toObject}": {
            "get": { "summary": "Associated record ids, in id order (keyset paging)", "operationId": "listAssociations",
                "parameters": [op(), ip(), { "name": "toObject", "in": "path", "required": true, "schema": { "type": "string" } },
                    q("limit", "1-500, default 500"), q("after", "paging.next.after of the previous page")],
                "responses": std_errors(json!({ "200": ok("Associations", "AssociationList") })) }
        },
        "/api/crm/v3/objects/{object}/{id}/associations/{toObject}/{toId}": {
            "put": { "summary": "Associate two records (an optional /{associationType} suffix is accepted)", "operationId": "associate",
                "parameters": [op(), ip(), { "name": "toObject", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "toId", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": std_errors(json!({ "200": ok("The record with its associations of that type", "SimplePublicObject") })) },
            "delete": { "summary": "Remove an association", "operationId": "dissociate",
                "parameters": [op(), ip(), { "name": "toObject", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "toId", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": std_errors(json!({ "204": { "description": "Removed (or there was none)" } })) }
        },
        "/api/crm/v3/properties/{object}": {
            "get": { "summary": "Property definitions", "operationId": "listProperties", "parameters": [op()],
                "responses": std_errors(json!({ "200": ok("Properties", "PropertyList") })) },
            "post": { "summary": "Create a custom property (Super Admins)", "operationId": "createProperty", "parameters": [op()],
                "requestBody": body("PropertyCreate"), "responses": std_errors(json!({ "201": ok("Created", "Property"), "403": err("Not a Super Admin") })) }
        },
        "/api/crm/v3/properties/{object}/{name}": {
            "get": { "summary": "One property definition", "operationId": "readProperty",
                "parameters": [op(), { "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": std_errors(json!({ "200": ok("The property", "Property") })) },
            "delete": { "summary": "Delete a custom property no record uses (Super Admins)", "operationId": "deleteProperty",
                "parameters": [op(), { "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": std_errors(json!({ "204": { "description": "Deleted" }, "409": err("Records still have values") })) }
        },
        "/api/crm/v3/pipelines/{object}": {
            "get": { "summary": "Deal pipelines with their stages", "operationId": "listPipelines", "parameters": [op()],
                "responses": std_errors(json!({ "200": ok("Pipelines", "PipelineList") })) },
            "post": { "summary": "Create a deal pipeline (Super Admins)", "operationId": "createPipeline", "parameters": [op()],
                "requestBody": body("PipelineCreate"), "responses": std_errors(json!({ "201": ok("Created", "Pipeline") })) }
        },
        "/api/crm/v3/pipelines/{object}/{pipelineId}": {
            "get": { "summary": "One pipeline", "operationId": "readPipeline",
                "parameters": [op(), { "name": "pipelineId", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": std_errors(json!({ "200": ok("The pipeline", "Pipeline") })) }
        },
        "/api/crm/v3/pipelines/{object}/{pipelineId}/stages": {
            "get": { "summary": "A pipeline's stages in order", "operationId": "listStages",
                "parameters": [op(), { "name": "pipelineId", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": std_errors(json!({ "200": ok("Stages", "StageList") })) }
        }
    });
    let props_map =
        json!({ "type": "object", "additionalProperties": { "type": "string", "nullable": true } });
    let schemas = json!({
        "Error": { "type": "object", "required": ["status", "category", "message", "errors"], "properties": {
            "status": { "type": "string", "enum": ["error"] },
            "category": { "type": "string", "enum": ["VALIDATION_ERROR", "INVALID_AUTHENTICATION", "MISSING_SCOPES", "OBJECT_NOT_FOUND", "CONFLICT", "RATE_LIMITS", "INTERNAL_ERROR"] },
            "message": { "type": "string" }, "hint": { "type": "string" }, "correlationId": { "type": "string" },
            "errors": { "type": "array", "items": { "type": "object", "properties": {
                "field": { "type": "string" }, "message": { "type": "string" }, "in": { "type": "string" } } } } } },
        "SimplePublicObject": { "type": "object", "required": ["id", "properties", "createdAt", "updatedAt", "archived"], "properties": {
            "id": { "type": "string" }, "properties": props_map, "createdAt": { "type": "string", "format": "date-time" },
            "updatedAt": { "type": "string", "format": "date-time" }, "archived": { "type": "boolean" },
            "archivedAt": { "type": "string", "format": "date-time" },
            "associations": { "type": "object", "additionalProperties": { "$ref": "#/components/schemas/AssociationList" } } } },
        "Paging": { "type": "object", "properties": { "next": { "type": "object", "properties": {
            "after": { "type": "string" }, "link": { "type": "string" } } } } },
        "CollectionResponse": { "type": "object", "properties": {
            "results": { "type": "array", "items": { "$ref": "#/components/schemas/SimplePublicObject" } },
            "paging": { "$ref": "#/components/schemas/Paging" } } },
        "SearchResponse": { "type": "object", "properties": { "total": { "type": "integer" },
            "results": { "type": "array", "items": { "$ref": "#/components/schemas/SimplePublicObject" } },
            "paging": { "$ref": "#/components/schemas/Paging" } } },
        "PropertiesInput": { "type": "object", "properties": { "properties": { "type": "object",
            "additionalProperties": { "nullable": true, "oneOf": [{ "type": "string" }, { "type": "number" }, { "type": "boolean" }, { "type": "array", "items": { "type": "string" } }] } } } },
        "SearchRequest": { "type": "object", "properties": {
            "filterGroups": { "type": "array", "maxItems": 5, "items": { "type": "object", "properties": { "filters": { "type": "array", "maxItems": 6, "items": {
                "type": "object", "required": ["propertyName", "operator"], "properties": {
                    "propertyName": { "type": "string" },
                    "operator": { "type": "string", "enum": ["EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"] },
                    "value": { "type": "string" }, "highValue": { "type": "string" }, "values": { "type": "array", "items": { "type": "string" } } } } } } } },
            "sorts": { "type": "array", "items": { "oneOf": [{ "type": "string", "description": "name, or -name for descending" },
                { "type": "object", "properties": { "propertyName": { "type": "string" }, "direction": { "type": "string", "enum": ["ASCENDING", "DESCENDING"] } } }] } },
            "query": { "type": "string", "description": "words that must all occur in the record's name, email, domain…" },
            "properties": { "type": "array", "items": { "type": "string" } },
            "limit": { "type": "integer", "minimum": 1, "maximum": 200 }, "after": { "type": "string" } } },
        "BatchCreateInput": { "type": "object", "properties": { "inputs": { "type": "array", "maxItems": 100, "items": { "$ref": "#/components/schemas/PropertiesInput" } } } },
        "BatchUpdateInput": { "type": "object", "properties": { "inputs": { "type": "array", "maxItems": 100, "items": { "type": "object", "properties": {
            "id": { "type": "string" }, "properties": { "type": "object" } } } } } },
        "BatchIdsInput": { "type": "object", "properties": { "inputs": { "type": "array", "maxItems": 100, "items": { "type": "object", "properties": { "id": { "type": "string" } } } } } },
        "BatchReadInput": { "type": "object", "properties": { "inputs": { "type": "array", "maxItems": 100, "items": { "type": "object", "properties": { "id": { "type": "string" } } } },
            "properties": { "type": "array", "items": { "type": "string" } }, "idProperty": { "type": "string", "enum": ["hs_object_id", "email"] } } },
        "BatchResponse": { "type": "object", "properties": { "status": { "type": "string" },
            "results": { "type": "array", "items": { "$ref": "#/components/schemas/SimplePublicObject" } },
            "numErrors": { "type": "integer" }, "errors": { "type": "array", "items": { "type": "object" } },
            "startedAt": { "type": "string", "format": "date-time" }, "completedAt": { "type": "string", "format": "date-time" } } },
        "AssociationList": { "type": "object", "properties": { "results": { "type": "array", "items": { "type": "object", "properties": {
            "id": { "type": "string" }, "type": { "type": "string", "example": "contact_to_company" } } } },
            "paging": { "$ref": "#/components/schemas/Paging" } } },
        "Property": { "type": "object", "properties": { "name": { "type": "string" }, "label": { "type": "string" },
            "type": { "type": "string" }, "fieldType": { "type": "string" }, "tandemType": { "type": "string" },
            "options": { "type": "array", "items": { "type": "object", "properties": { "label": { "type": "string" }, "value": { "type": "string" } } } },
            "required": { "type": "boolean" }, "calculated": { "type": "boolean" }, "hubspotDefined": { "type": "boolean" },
            "modificationMetadata": { "type": "object", "properties": { "readOnlyValue": { "type": "boolean" } } } } },
        "PropertyList": { "type": "object", "properties": { "results": { "type": "array", "items": { "$ref": "#/components/schemas/Property" } } } },
        "PropertyCreate": { "type": "object", "required": ["label", "type"], "properties": { "name": { "type": "string" }, "label": { "type": "string" },
            "type": { "type": "string" }, "fieldType": { "type": "string" }, "description": { "type": "string" },
            "options": { "type": "array", "items": { "type": "object", "properties": { "label": { "type": "string" }, "value": { "type": "string" } } } },
            "required": { "type": "boolean" }, "readOnly": { "type": "boolean" } } },
        "Stage": { "type": "object", "properties": { "id": { "type": "string" }, "label": { "type": "string" }, "displayOrder": { "type": "integer" },
            "metadata": { "type": "object", "properties": { "probability": { "type": "string" }, "isClosed": { "type": "string" } } } } },
        "StageList": { "type": "object", "properties": { "results": { "type": "array", "items": { "$ref": "#/components/schemas/Stage" } } } },
        "Pipeline": { "type": "object", "properties": { "id": { "type": "string" }, "label": { "type": "string" }, "displayOrder": { "type": "integer" },
            "stages": { "type": "array", "items": { "$ref": "#/components/schemas/Stage" } } } },
        "PipelineList": { "type": "object", "properties": { "results": { "type": "array", "items": { "$ref": "#/components/schemas/Pipeline" } } } },
        "PipelineCreate": { "type": "object", "required": ["label", "stages"], "properties": { "label": { "type": "string" },
            "stages": { "type": "array", "items": { "type": "object", "properties": { "label": { "type": "string" }, "displayOrder": { "type": "integer" },
                "metadata": { "type": "object", "properties": { "probability": { "type": "string" }, "isClosed": { "type": "string" } } } } } } } }
    });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Tandem hub CRM API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "HubSpot-shaped CRM v3 API of the Tandem hub. Authenticate with a private app token: `Authorization: Bearer <token>`. Everything is scoped to the token's portal.",
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearerAuth": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearerAuth": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas,
        },
    })
}
