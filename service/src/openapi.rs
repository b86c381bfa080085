//! The error answers every operation of a kind can give, added to the OpenAPI document in one
//! place, because they come from layers every handler shares rather than from the handler: the
//! extractors (400 malformed JSON or query, 413, 415, 422 wrong shape, 404 malformed path id), the
//! session or token check (401, 403), the rules on state (409) and, where the service has one, the
//! front door (401 for credentials that do not verify, 429). Each refers to the shared
//! `ErrorBody`. An operation that documents a status itself keeps its own wording.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, ResponseBuilder};

/// What each status means, for the statuses added here.
fn meaning(status: u16) -> &'static str {
    match status {
        400 => "malformed JSON or query parameters",
        401 => "no valid session or access token, or credentials that do not verify",
        403 => "the caller's role or scope may not do this",
        404 => "no such resource, or a malformed id in the path",
        409 => "the current state does not allow it (or sold out, out of stock, outside the zone)",
        413 => "the request body is over the size limit",
        415 => "the request body is not JSON",
        422 => "a value breaks a rule of the request (a length, a range, a combination)",
        429 => "too many requests: `Retry-After` says when to try again",
        _ => "error",
    }
}

/// Adds to every operation of `api` the error statuses its kind can answer, and `every` (the
/// statuses any request can get, such as a front door's 401 and 429) to all of them.
pub fn document_errors(api: &mut OpenApi, every: &[u16]) {
    for item in api.paths.paths.values_mut() {
        let ops = [
            (&mut item.get, false),
            (&mut item.put, true),
            (&mut item.post, true),
            (&mut item.delete, true),
            (&mut item.patch, true),
        ];
        for (op, writes) in ops {
            if let Some(op) = op {
                let statuses = statuses(op, writes);
                for status in statuses.into_iter().chain(every.iter().copied()) {
                    add(op, status);
                }
            }
        }
    }
}

/// Makes every operation id unique, as OpenAPI requires (clients name their calls by it): an id
/// that several operations share (a handler `list` in several domains) is followed by the path's
/// fixed segments after the version (`list` at `/api/v1/outlets` is `list_outlets`, `stream` at
/// `/api/v1/orders/{id}/stream` is `stream_orders_stream`).
pub fn unique_operation_ids(api: &mut OpenApi) {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for item in api.paths.paths.values() {
        for op in operations(item) {
            if let Some(id) = &op.operation_id {
                *seen.entry(id.clone()).or_default() += 1;
            }
        }
    }
    for (path, item) in api.paths.paths.iter_mut() {
        let fixed: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty() && !s.starts_with('{') && *s != "api" && *s != "v1")
            .map(|s| s.replace('-', "_"))
            .collect();
        for op in
            [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
        {
            let Some(id) = op.operation_id.clone() else { continue };
            if seen.get(&id).copied().unwrap_or(0) > 1 {
                op.operation_id = Some(format!("{id}_{}", fixed.join("_")));
            }
        }
    }
}

fn operations(item: &utoipa::openapi::PathItem) -> impl Iterator<Item = &Operation> {
    [&item.get, &item.put, &item.post, &item.delete, &item.patch].into_iter().flatten()
}

fn statuses(op: &Operation, writes: bool) -> Vec<u16> {
    let mut out = Vec::new();
    let params = op.parameters.as_deref().unwrap_or_default();
    if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
        out.extend([401, 403]);
    }
    if op.request_body.is_some() {
        out.extend([400, 413, 415, 422]);
    }
    if params.iter().any(|p| p.parameter_in == ParameterIn::Path) {
        out.push(404);
    }
    if params.iter().any(|p| matches!(p.parameter_in, ParameterIn::Query | ParameterIn::Header)) {
        out.extend([400, 422]);
    }
    if writes {
        out.extend([404, 409, 422]);
    }
    out
}

fn add(op: &mut Operation, status: u16) {
    let key = status.to_string();
    if op.responses.responses.contains_key(&key) {
        return;
    }
    let body = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
    let response = ResponseBuilder::new().description(meaning(status)).content("application/json", body).build();
    op.responses.responses.insert(key, response.into());
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, PathItem};
    use utoipa::openapi::{PathsBuilder, security::SecurityRequirement};

    #[test]
    fn each_kind_of_operation_gets_its_shared_errors() {
        let get = OperationBuilder::new()
            .parameter(ParameterBuilder::new().name("id").parameter_in(ParameterIn::Path))
            .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
            .response("200", ResponseBuilder::new().description("ok"))
            .response("404", ResponseBuilder::new().description("no such order"))
            .build();
        let paths = PathsBuilder::new().path("/x/{id}", PathItem::new(HttpMethod::Get, get)).build();
        let mut api = utoipa::openapi::OpenApiBuilder::new().paths(paths).build();
        document_errors(&mut api, &[429]);
        let op = api.paths.paths["/x/{id}"].get.as_ref().unwrap();
        let mut got: Vec<&str> = op.responses.responses.keys().map(String::as_str).collect();
        got.sort_unstable();
        assert_eq!(got, ["200", "401", "403", "404", "429"]);
        let json = serde_json::to_value(&op.responses.responses["404"]).unwrap();
        assert_eq!(json["description"], "no such order", "an operation's own wording stays");
    }

    #[test]
    fn shared_operation_ids_are_told_apart_by_path() {
        let op = |id: &str, tag: &str| OperationBuilder::new().operation_id(Some(id)).tag(tag).build();
        let paths = PathsBuilder::new()
            .path("/api/v1/outlets", PathItem::new(HttpMethod::Get, op("list", "outlets")))
            .path("/api/v1/orders/{id}/sub-orders", PathItem::new(HttpMethod::Get, op("list", "ordering")))
            .path("/api/v1/auth/whoami", PathItem::new(HttpMethod::Get, op("whoami", "identity")))
            .build();
        let mut api = utoipa::openapi::OpenApiBuilder::new().paths(paths).build();
        unique_operation_ids(&mut api);
        let id = |p: &str| api.paths.paths[p].get.as_ref().unwrap().operation_id.clone().unwrap();
        assert_eq!(
            (id("/api/v1/outlets"), id("/api/v1/orders/{id}/sub-orders"), id("/api/v1/auth/whoami")),
            ("list_outlets".into(), "list_orders_sub_orders".into(), "whoami".into())
        );
    }
}
