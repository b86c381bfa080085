//! Layered configuration: a typed `Config`'s defaults, then a TOML file, then `PATTY_SECTION__KEY`
//! environment variables (typed after the value they replace). Each binary validates the result.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// The configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file, a variable or a value is not valid.
    #[error("{0}")]
    Invalid(String),
}

/// Loads `T`: its defaults, then `file`, then the `PATTY_…` variables in `env` whose first section
/// names one of `T`'s own settings (another binary's variables are left alone). Optional settings
/// belong in a section, so that the section exists in the defaults even when they are unset.
pub fn load<T>(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<T, ConfigError>
where
    T: Default + Serialize + DeserializeOwned,
{
    let mut doc = toml::Table::try_from(T::default()).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    if let Some(path) = file {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let over: toml::Table = text.parse().map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?;
        merge(&mut doc, over);
    }
    for (key, value) in env {
        let Some(rest) = key.strip_prefix("PATTY_") else { continue };
        let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if doc.contains_key(&path[0]) {
            set_path(&mut doc, &path, &value);
        }
    }
    toml::Value::Table(doc).try_into().map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn set_path(doc: &mut toml::Table, path: &[String], raw: &str) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut table = doc;
    for p in parents {
        let entry = table.entry(p.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(t) = entry else { return };
        table = t;
    }
    let value = match table.get(last) {
        Some(toml::Value::Integer(_)) => raw.parse().map(toml::Value::Integer).unwrap_or_else(|_| raw.into()),
        Some(toml::Value::Boolean(_)) => raw.parse().map(toml::Value::Boolean).unwrap_or_else(|_| raw.into()),
        Some(toml::Value::Float(_)) => raw.parse().map(toml::Value::Float).unwrap_or_else(|_| raw.into()),
        Some(toml::Value::Array(_)) => toml::Value::Array(
            raw.split(',')
                .map(|s| toml::Value::String(s.trim().to_owned()))
                .filter(|v| v.as_str() != Some(""))
                .collect(),
        ),
        _ => toml::Value::String(raw.to_owned()),
    };
    table.insert(last.clone(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Demo {
        name: String,
        inner: Inner,
    }

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Inner {
        count: i64,
        on: bool,
        list: Vec<String>,
        maybe: Option<String>,
    }

    #[test]
    fn layers_apply_in_order_and_keep_types() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "name = \"file\"\n[inner]\ncount = 3\n").unwrap();
        let env = [
            ("PATTY_INNER__COUNT".to_owned(), "7".to_owned()),
            ("PATTY_INNER__ON".to_owned(), "true".to_owned()),
            ("PATTY_INNER__LIST".to_owned(), "a, b".to_owned()),
            ("PATTY_INNER__MAYBE".to_owned(), "x".to_owned()),
            ("PATTY_SOMEONE_ELSES".to_owned(), "ignored".to_owned()),
        ];
        let d: Demo = load(Some(&file), env).unwrap();
        assert_eq!(d.name, "file");
        assert_eq!(d.inner.count, 7);
        assert!(d.inner.on);
        assert_eq!(d.inner.list, ["a", "b"]);
        assert_eq!(d.inner.maybe.as_deref(), Some("x"));
    }

    #[test]
    fn typos_in_our_own_sections_and_bad_values_are_refused() {
        assert!(load::<Demo>(None, [("PATTY_INNER__CUONT".to_owned(), "1".to_owned())]).is_err());
        assert!(load::<Demo>(None, [("PATTY_INNER__COUNT".to_owned(), "many".to_owned())]).is_err());
        let missing = std::path::Path::new("/nonexistent/patty.toml");
        assert!(matches!(load::<Demo>(Some(missing), []), Err(ConfigError::Read { .. })));
    }
}
