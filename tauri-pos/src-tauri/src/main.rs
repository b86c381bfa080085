//! `patty-pos`: the POS as a desktop app. The window opens on the outlet's edge node (its POS at
//! `/pos/`), so several terminals share one edge and every sale lands there, working on while the
//! cloud link is down. The edge's address comes from `PATTY_POS_EDGE` or the first argument
//! (default `http://127.0.0.1:8480`); a small bundled page waits for the edge and says so while it
//! does not answer.
#![forbid(unsafe_code)]
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// The edge's base URL from the first argument or `PATTY_POS_EDGE`; an error names what is wrong.
fn edge_url() -> Result<String, String> {
    let given = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("PATTY_POS_EDGE").ok())
        .unwrap_or_else(|| "http://127.0.0.1:8480".into());
    parse_edge(&given)
}

/// `given` as the edge's base URL (`http(s)://host:port`, without a trailing slash).
fn parse_edge(given: &str) -> Result<String, String> {
    let url = given.trim_end_matches('/').to_owned();
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ']) => Ok(url),
        _ => Err(format!("the edge's address must be http://host:port or https://host:port, not {given:?}")),
    }
}

/// Percent-encodes `s` for a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn main() {
    let edge = match edge_url() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("patty-pos: {e}");
            std::process::exit(2);
        }
    };
    let page = format!("index.html?edge={}", encode(&edge));
    let built = tauri::Builder::default()
        .setup(move |app| {
            tauri::WebviewWindowBuilder::new(app, "main", tauri::WebviewUrl::App(page.into()))
                .title("Patty Palace POS")
                .inner_size(1280.0, 800.0)
                .min_inner_size(800.0, 600.0)
                .build()?;
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = built {
        eprintln!("patty-pos: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_edge_address_is_an_http_base_url() {
        assert_eq!(super::parse_edge("http://10.0.0.5:8480/").unwrap(), "http://10.0.0.5:8480");
        assert_eq!(super::parse_edge("https://edge.local").unwrap(), "https://edge.local");
        for bad in ["10.0.0.5:8480", "http://", "http://edge/pos", "ftp://edge", "http://a b"] {
            let e = super::parse_edge(bad).unwrap_err();
            assert!(e.contains("http://host:port"), "{bad}: {e}");
        }
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(super::encode("http://127.0.0.1:8480"), "http%3A%2F%2F127.0.0.1%3A8480");
    }
}
