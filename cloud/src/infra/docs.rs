//! `/docs`: an HTML API reference built from the OpenAPI document, served without scripts or
//! anything fetched from elsewhere.

use std::fmt::Write;
use utoipa::openapi::{OpenApi, RefOr};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Renders the reference page.
pub fn render(doc: &OpenApi) -> String {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Patty Palace cloud API</title>\
         <style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
         h2{margin-top:2rem;border-bottom:1px solid #ddd}code{background:#f4f4f4;padding:0 .3em}\
         .op{margin:.6rem 0}.m{display:inline-block;min-width:4.5rem;font-weight:bold;font-family:monospace}\
         .get{color:#0a6}.post{color:#06c}.put,.patch{color:#a60}.delete{color:#c00}small{color:#666}</style></head><body>",
    );
    let _ = write!(
        html,
        "<h1>{}</h1><p>{}</p><p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a></p>",
        esc(&doc.info.title),
        esc(doc.info.description.as_deref().unwrap_or(""))
    );
    let mut by_tag: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (path, item) in doc.paths.paths.iter() {
        let ops = [
            ("get", &item.get),
            ("post", &item.post),
            ("put", &item.put),
            ("patch", &item.patch),
            ("delete", &item.delete),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            let tag = op.tags.as_ref().and_then(|t| t.first()).cloned().unwrap_or_else(|| "other".into());
            let summary = op.summary.clone().or_else(|| op.description.clone()).unwrap_or_default();
            let body = op
                .request_body
                .as_ref()
                .and_then(|b| b.content.values().next())
                .and_then(|c| c.schema.as_ref())
                .map(schema_name)
                .unwrap_or_default();
            let statuses: Vec<String> = op.responses.responses.keys().cloned().collect();
            let mut row = format!(
                "<div class=\"op\"><span class=\"m {method}\">{}</span> <code>{}</code> {}",
                method.to_uppercase(),
                esc(path),
                esc(&summary)
            );
            if !body.is_empty() {
                let _ = write!(row, "<br><small>body: {}</small>", esc(&body));
            }
            let _ = write!(row, "<br><small>responses: {}</small></div>", esc(&statuses.join(", ")));
            by_tag.entry(tag).or_default().push(row);
        }
    }
    for (tag, rows) in by_tag {
        let _ = write!(html, "<h2>{}</h2>{}", esc(&tag), rows.join(""));
    }
    html.push_str("</body></html>");
    html
}

fn schema_name(s: &RefOr<utoipa::openapi::schema::Schema>) -> String {
    match s {
        RefOr::Ref(r) => r.ref_location.rsplit('/').next().unwrap_or_default().to_owned(),
        RefOr::T(_) => "inline".to_owned(),
    }
}
