//! The messages' templates: one per kind and language (`templates/en.toml`, `templates/nl.toml`),
//! each a subject and a text with `{{name}}` holes, and the HTML part laid out from the text (its
//! paragraphs, its links as links, an unsubscribe footer on marketing email). A hole with no value
//! is an error naming it, so a message never goes out with a blank where the tracking link
//! should be.

use super::rules::{Kind, LANGS};
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

/// The values a message is rendered from, by hole name.
pub type Vars = BTreeMap<String, String>;

/// A rendered message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// The subject (the push's title).
    pub subject: String,
    /// The plain text.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// Why a message could not be rendered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    /// No template for this kind in this language (nor in English).
    #[error("no template {template:?} in {lang:?}")]
    Missing {
        /// The template's name.
        template: String,
        /// The language asked for.
        lang: String,
    },
    /// A hole the values do not fill.
    #[error("template {template:?} needs {hole:?}, which the message does not have")]
    Hole {
        /// The template's name.
        template: String,
        /// The hole.
        hole: String,
    },
    /// A hole that never closes.
    #[error("template {0:?} has a hole that is never closed")]
    Unclosed(String),
}

#[derive(serde::Deserialize)]
struct Template {
    subject: String,
    text: String,
}

static TEMPLATES: LazyLock<HashMap<&'static str, HashMap<String, Template>>> = LazyLock::new(|| {
    let sources = [("en", include_str!("templates/en.toml")), ("nl", include_str!("templates/nl.toml"))];
    sources
        .into_iter()
        .map(|(lang, src)| {
            // The files are part of the binary and a unit test parses each: a broken one fails the build's tests.
            let parsed: HashMap<String, Template> = toml::from_str(src).unwrap_or_default();
            (lang, parsed)
        })
        .collect()
});

/// Renders `template` in `lang` (English when the language has none) with `vars`; `unsubscribe`
/// adds the one-click link's footer to the HTML and text.
pub fn render(template: &str, lang: &str, vars: &Vars, unsubscribe: Option<&str>) -> Result<Rendered, RenderError> {
    let missing = || RenderError::Missing { template: template.into(), lang: lang.into() };
    let t = TEMPLATES
        .get(lang)
        .and_then(|l| l.get(template))
        .or_else(|| TEMPLATES.get("en").and_then(|l| l.get(template)))
        .ok_or_else(missing)?;
    let subject = fill(template, &t.subject, vars, |s| s.to_owned())?;
    let mut text = fill(template, t.text.trim(), vars, |s| s.to_owned())?;
    let mut html_body = fill(template, t.text.trim(), vars, escape)?;
    if let Some(link) = unsubscribe {
        let footer = footer(lang);
        text.push_str(&format!("\n\n{footer}: {link}"));
        html_body.push_str(&format!("\n\n{}: {}", escape(footer), escape(link)));
    }
    let html = layout(&escape(&subject), &html_body);
    Ok(Rendered { subject, text: text.replace('\n', "\r\n"), html })
}

fn footer(lang: &str) -> &'static str {
    match lang {
        "nl" => "Geen berichten als dit meer? Afmelden met één klik",
        _ => "No more messages like this? Unsubscribe in one click",
    }
}

/// Fills the holes of `src` with `vars`; the template's own text and each value pass through
/// `encode` alike (HTML-escaped for the HTML part).
fn fill(template: &str, src: &str, vars: &Vars, encode: impl Fn(&str) -> String) -> Result<String, RenderError> {
    let mut out = String::with_capacity(src.len() + 64);
    let mut rest = src;
    while let Some(open) = rest.find("{{") {
        out.push_str(&encode(&rest[..open]));
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or_else(|| RenderError::Unclosed(template.into()))?;
        let hole = after[..close].trim();
        let value = vars
            .get(hole)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| RenderError::Hole { template: template.into(), hole: hole.into() })?;
        out.push_str(&encode(value));
        rest = &after[close + 2..];
    }
    out.push_str(&encode(rest));
    Ok(out)
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Lays escaped text out as an HTML email: paragraphs at blank lines, lines kept, links made
/// clickable (a word that starts with `https://` or `http://`).
fn layout(title: &str, escaped: &str) -> String {
    let paragraphs: Vec<String> = escaped
        .split("\n\n")
        .map(|p| {
            let lines: Vec<String> = p.lines().map(linkify).collect();
            format!("<p style=\"margin:0 0 16px\">{}</p>", lines.join("<br>\r\n"))
        })
        .collect();
    format!(
        "<!doctype html>\r\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\r\n\
         <body style=\"font-family:sans-serif;font-size:16px;line-height:1.4;color:#222;max-width:560px\">\r\n\
         <h1 style=\"font-size:20px\">{title}</h1>\r\n{}\r\n</body></html>\r\n",
        paragraphs.join("\r\n")
    )
}

fn linkify(line: &str) -> String {
    line.split(' ')
        .map(|w| {
            if w.starts_with("https://") || w.starts_with("http://") {
                format!("<a href=\"{w}\">{w}</a>")
            } else {
                w.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sample values for every hole of every template: what the rendering test fills them with.
pub fn sample_vars() -> Vars {
    [
        ("name", "Ada"),
        ("token", "Xk3-sample-token"),
        ("valid_hours", "24"),
        ("when", "2026-12-01 21:14 (Europe/Amsterdam)"),
        ("address", "203.0.113.7"),
        ("link", "https://pattypalace.example/track/ord_1"),
        ("review_link", "https://pattypalace.example/orders/ord_1/review"),
        ("outlet", "Damrak"),
        ("order_no", "1042"),
        ("items", "2 × Classic Patty\n1 × Fries"),
        ("total", "EUR 21.50"),
        ("amount", "EUR 4.50"),
        ("code", "4821"),
        ("points", "120"),
        ("balance", "860"),
        ("expires", "2026-12-31"),
        ("title", "Two for one on Tuesdays"),
        ("body", "Bring a friend: the second Classic Patty is on us."),
        ("coupon", "TWOFOR1"),
        ("ingredient", "Brioche buns"),
        ("on_hand", "12"),
        ("unit", "pcs"),
        ("reorder_level", "40"),
        ("subject", "stock of Brioche buns"),
        ("detail", "stock cannot be below zero"),
        ("since", "14:05"),
        ("minutes", "12"),
        ("job", "77"),
        ("seconds", "60"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Every language there are templates for, each parsed.
pub fn languages() -> impl Iterator<Item = &'static str> {
    LANGS.into_iter()
}

/// Whether `lang` has a template for every kind (a unit test holds each to it).
pub fn complete(lang: &str) -> bool {
    TEMPLATES.get(lang).is_some_and(|l| Kind::ALL.iter().all(|k| l.contains_key(k.template())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_in_every_language_with_sample_data() {
        let vars = sample_vars();
        for lang in languages() {
            assert!(complete(lang), "{lang} lacks a template");
            for kind in Kind::ALL {
                let r = render(kind.template(), lang, &vars, None).unwrap_or_else(|e| panic!("{lang}: {e}"));
                for part in [&r.subject, &r.text, &r.html] {
                    assert!(!part.contains("{{") && !part.contains("}}"), "{lang} {kind:?}: a hole left in {part}");
                }
                assert!(!r.subject.is_empty() && r.text.len() > r.subject.len());
                assert!(r.html.starts_with("<!doctype html>") && r.html.contains("</body></html>"));
            }
        }
    }

    #[test]
    fn the_messages_carry_what_the_customer_needs() {
        let vars = sample_vars();
        let out = render("order.out_for_delivery", "en", &vars, None).unwrap();
        assert!(out.text.contains("https://pattypalace.example/track/ord_1") && out.text.contains("4821"));
        assert!(out.html.contains("<a href=\"https://pattypalace.example/track/ord_1\">"), "{}", out.html);
        let nl = render("order.out_for_delivery", "nl", &vars, None).unwrap();
        assert_eq!(nl.subject, "Je bestelling #1042 is onderweg");
        let reset = render("security.password_reset", "en", &vars, None).unwrap();
        assert!(reset.text.contains("\r\nXk3-sample-token\r\n"), "the token on a line of its own");
    }

    #[test]
    fn values_are_escaped_in_html_and_a_missing_value_is_an_error_naming_it() {
        let mut vars = sample_vars();
        vars.insert("outlet".into(), "<script>x</script>".into());
        let r = render("order.accepted", "en", &vars, None).unwrap();
        assert!(!r.html.contains("<script>") && r.html.contains("&lt;script&gt;"));
        assert!(r.text.contains("<script>x</script>"), "plain text stays plain");
        vars.remove("code");
        assert_eq!(
            render("order.out_for_delivery", "en", &vars, None),
            Err(RenderError::Hole { template: "order.out_for_delivery".into(), hole: "code".into() })
        );
        assert!(matches!(render("order.nonsense", "en", &vars, None), Err(RenderError::Missing { .. })));
    }

    #[test]
    fn marketing_carries_the_unsubscribe_link_in_both_parts() {
        let r = render("marketing.coupon", "nl", &sample_vars(), Some("https://pattypalace.example/u?t=abc")).unwrap();
        assert!(r.text.contains("Afmelden met één klik: https://pattypalace.example/u?t=abc"));
        assert!(r.html.contains("<a href=\"https://pattypalace.example/u?t=abc\">"));
    }
}
