//! The edge's configuration: defaults, then a TOML file, then `PATTY_SECTION__KEY` environment
//! variables, then command-line flags, then [`Config::validate`].

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything the edge needs to run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate and key (`--tls-cert`, `--tls-key`); none: plain HTTP.
    pub tls: patty_service::tls::TlsFiles,
    /// Directory holding the database and the PIN key; created if missing.
    pub data_dir: PathBuf,
    /// The outlet this node serves.
    pub outlet: OutletConfig,
    /// Staff sessions.
    pub session: SessionConfig,
    /// Limits on requests.
    pub limits: LimitsConfig,
    /// Where the first menu, stock and staff come from.
    pub seed: SeedConfig,
    /// The link to the cloud (sync); off while `url` is empty.
    pub cloud: CloudConfig,
    /// The POS front end served at `/pos/`.
    pub pos: PosConfig,
}

/// The POS front end (`web/`, built with `npm --prefix web run build`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PosConfig {
    /// The built POS; `/pos/` answers with a JSON 404 saying how to build it while it is absent.
    pub dir: PathBuf,
}

impl Default for PosConfig {
    fn default() -> Self {
        Self { dir: PathBuf::from("web/dist/pos") }
    }
}

/// The link to the cloud.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudConfig {
    /// The cloud's base URL (`http://host:port`); empty: this outlet works alone.
    pub url: String,
    /// This outlet's API key (kind `edge`), issued by HQ.
    pub api_key: String,
    /// PEM file of the CA(s) the cloud's certificate must chain to, instead of the system's
    /// roots (a private CA); only for an `https://` URL.
    pub ca_file: Option<PathBuf>,
}

impl CloudConfig {
    /// An HTTP client builder for the cloud link: rustls, trusting `ca_file` alone when given,
    /// else the system's roots. A CA file that cannot be read is one line naming it.
    pub fn client(&self) -> Result<reqwest::ClientBuilder, String> {
        let builder = reqwest::Client::builder();
        let Some(path) = &self.ca_file else { return Ok(builder) };
        let pem = std::fs::read(path).map_err(|e| format!("cloud.ca_file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("cloud.ca_file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("cloud.ca_file {}: no certificate in it", path.display()));
        }
        Ok(certs.into_iter().fold(builder.tls_built_in_root_certs(false), |b, c| b.add_root_certificate(c)))
    }

    /// The HTTP client every task talking to the cloud uses: [`CloudConfig::client`] with a
    /// five-second connect timeout.
    pub fn http_client(&self) -> Result<reqwest::Client, String> {
        self.client()?.connect_timeout(std::time::Duration::from_secs(5)).build().map_err(|e| e.to_string())
    }
}

impl std::fmt::Debug for CloudConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key lets whoever holds it act as this outlet: it never reaches a log line.
        f.debug_struct("CloudConfig")
            .field("url", &self.url)
            .field("api_key", &if self.api_key.is_empty() { "" } else { "[redacted]" })
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// The outlet's identity and money rules.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutletConfig {
    /// The outlet's id; also the origin id of its change log. Minted on first start if absent.
    pub id: Option<String>,
    /// Name printed on receipts.
    pub name: String,
    /// Sales tax in basis points (20% = 2000).
    pub tax_rate_bp: u32,
    /// Menu prices already include tax (as in the EU and UK); otherwise tax is added (as in the US).
    pub prices_include_tax: bool,
    /// The outlet's IANA time zone (`Europe/Amsterdam`), for availability windows, order numbers,
    /// receipts and day reports; an unknown name is a configuration error.
    pub timezone: patty_protocol::local::Tz,
    /// Fee for a delivery taken at the counter (a phone order), minor units; the same as the
    /// outlet's profile at the cloud charges online orders.
    pub delivery_fee: i64,
}

/// Staff sessions.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// A session ends after this many seconds without a request.
    pub idle_secs: u64,
    /// A session ends this many seconds after sign-in, whatever happens.
    pub max_secs: u64,
    /// How long a terminal is locked after its fifth wrong PIN; each further wrong PIN doubles it.
    pub pin_lock_secs: u64,
}

/// Limits on requests.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body accepted, in bytes.
    pub body_bytes: usize,
    /// Most lines one order may have.
    pub order_lines: usize,
    /// Most portions one line may have.
    pub line_quantity: u32,
}

/// Where the first menu, stock and staff come from.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeedConfig {
    /// A seed file (JSON); the built-in sample outlet when absent. Used only on an empty store.
    pub file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8480)),
            tls: Default::default(),
            data_dir: PathBuf::from("data/edge"),
            outlet: OutletConfig::default(),
            session: SessionConfig::default(),
            limits: LimitsConfig::default(),
            seed: SeedConfig::default(),
            cloud: CloudConfig::default(),
            pos: PosConfig::default(),
        }
    }
}

impl Default for OutletConfig {
    fn default() -> Self {
        Self {
            id: None,
            name: "Patty Palace".into(),
            tax_rate_bp: 2000,
            prices_include_tax: true,
            timezone: patty_protocol::local::Tz::UTC,
            delivery_fee: 0,
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self { idle_secs: 30 * 60, max_secs: 12 * 3600, pin_lock_secs: 30 }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self { body_bytes: 64 * 1024, order_lines: 100, line_quantity: 99 }
    }
}

pub use patty_service::config::ConfigError;

impl Config {
    /// The defaults, on data directory `dir` (tests and benchmarks build their config this way).
    pub fn for_data_dir(dir: impl Into<PathBuf>) -> Self {
        Self { data_dir: dir.into(), ..Self::default() }
    }

    /// Defaults, then `file` if given, then `PATTY_…` variables from `env`, then validation.
    pub fn load(
        file: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let config: Config = patty_service::config::load(file, env)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        self.tls.validate().map_err(ConfigError::Invalid)?;
        if self.outlet.tax_rate_bp > 10_000 {
            return bad("outlet.tax_rate_bp must be at most 10000 (100%)");
        }
        if !(0..=1_000_000).contains(&self.outlet.delivery_fee) {
            return bad("outlet.delivery_fee must be 0 to 1000000 minor units");
        }
        if let Some(id) = &self.outlet.id
            && uuid::Uuid::parse_str(id).is_err()
        {
            return bad("outlet.id must be a UUID");
        }
        if self.session.idle_secs == 0
            || self.session.max_secs < self.session.idle_secs
            || self.session.pin_lock_secs == 0
        {
            return bad("session.idle_secs and session.pin_lock_secs must be positive, idle_secs at most max_secs");
        }
        if self.limits.body_bytes < 1024 || self.limits.order_lines == 0 || self.limits.line_quantity == 0 {
            return bad("limits must allow at least a 1 KiB body, one line and one portion");
        }
        if !self.cloud.url.is_empty() {
            if !(self.cloud.url.starts_with("http://") || self.cloud.url.starts_with("https://")) {
                return bad("cloud.url must start with http:// or https://");
            }
            if self.cloud.api_key.is_empty() {
                return bad("cloud.api_key is required when cloud.url is set");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cloud_api_key_never_shows_in_debug_output() {
        let mut c = Config::for_data_dir(std::path::Path::new("/tmp/edge"));
        c.cloud = CloudConfig {
            url: "https://cloud.example".into(),
            api_key: "pk_edge_s3cr3t-key-value".into(),
            ca_file: None,
        };
        for shown in [format!("{c:?}"), format!("{:?}", c.cloud), format!("{c:#?}")] {
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert!(shown.contains("[redacted]") && shown.contains("https://cloud.example"), "{shown}");
        }
    }

    #[test]
    fn env_overrides_file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("edge.toml");
        std::fs::write(&file, "[outlet]\nname = \"Dock Street\"\ntax_rate_bp = 900\n").unwrap();
        let env = [("PATTY_OUTLET__TAX_RATE_BP".to_owned(), "700".to_owned()), ("HOME".to_owned(), "/".to_owned())];
        let c = Config::load(Some(&file), env).unwrap();
        assert_eq!(c.outlet.name, "Dock Street");
        assert_eq!(c.outlet.tax_rate_bp, 700);
        assert_eq!(c.session.idle_secs, 1800);
    }

    #[test]
    fn bad_values_are_refused() {
        let env = [("PATTY_OUTLET__TAX_RATE_BP".to_owned(), "20000".to_owned())];
        assert!(Config::load(None, env).is_err());
        let env = [("PATTY_OUTLET__TIMEZONE".to_owned(), "Europe/Amsterdm".to_owned())];
        let e = Config::load(None, env).unwrap_err().to_string();
        assert!(e.contains("Europe/Amsterdm"), "{e}");
        let env = [("PATTY_OUTLET__TIMEZONE".to_owned(), "Asia/Kolkata".to_owned())];
        assert_eq!(Config::load(None, env).unwrap().outlet.timezone, patty_protocol::local::Tz::Asia__Kolkata);
        let env = [("PATTY_LISTEN".to_owned(), "not an address".to_owned())];
        assert!(Config::load(None, env).is_err());
        let env = [("PATTY_OUTLET__NO_SUCH_KEY".to_owned(), "1".to_owned())];
        assert!(Config::load(None, env).is_err());
        let env = [
            ("PATTY_CLOUD__URL".to_owned(), "ftp://cloud".to_owned()),
            ("PATTY_CLOUD__API_KEY".to_owned(), "k".to_owned()),
        ];
        assert!(Config::load(None, env).is_err(), "a cloud URL that is not HTTP");
        let env = [("PATTY_CLOUD__URL".to_owned(), "http://cloud:8080".to_owned())];
        assert!(Config::load(None, env).is_err(), "a cloud without the outlet's key");
        let env = [
            ("PATTY_CLOUD__URL".to_owned(), "http://cloud:8080".to_owned()),
            ("PATTY_CLOUD__API_KEY".to_owned(), "k".to_owned()),
        ];
        assert_eq!(Config::load(None, env).unwrap().cloud.url, "http://cloud:8080");
        let env = [("PATTY_DATABASE_URL".to_owned(), "postgres://elsewhere".to_owned())];
        assert!(Config::load(None, env).is_ok(), "another binary's setting is not ours to refuse");
    }
}
