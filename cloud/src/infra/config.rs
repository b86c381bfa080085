//! The cloud's configuration: defaults, then a TOML file, then `PATTY_SECTION__KEY` variables, then
//! command-line flags, then [`Config::validate`].

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

pub use patty_service::config::ConfigError;

mod notify;
mod payments;
pub use notify::{KannelConfig, NotifyConfig, SmsConfig, TwilioConfig};
pub use payments::{PaymentsConfig, RazorpayConfig, StripeConfig, read_secret};

/// Everything the cloud needs to run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate and key (`--tls-cert`, `--tls-key`); none: plain HTTP.
    pub tls: patty_service::tls::TlsFiles,
    /// Directory for the embedded SQLite database and generated keys; created if missing.
    pub data_dir: PathBuf,
    /// Where the data lives.
    pub database: DatabaseConfig,
    /// Tokens and passwords.
    pub auth: AuthConfig,
    /// The HTTP front door.
    pub http: HttpConfig,
    /// Kafka; off when no brokers are given.
    pub kafka: KafkaConfig,
    /// The MQTT broker drivers' agents publish to (an embedded one when no URL is given).
    pub mqtt: MqttConfig,
    /// Dispatch, geofences and hand-over.
    pub delivery: DeliveryConfig,
    /// The HQ dashboard served at `/`.
    pub hq: HqConfig,
    /// Where security messages (verification, password reset) go.
    pub mail: MailConfig,
    /// Customers' personal data in events.
    pub privacy: PrivacyConfig,
    /// Online payments: the provider, its keys, and the key for payment data at rest.
    pub payments: PaymentsConfig,
    /// Notifications: the embedded notifier, links, defaults, SMTP, web push, SMS.
    pub notify: NotifyConfig,
}

/// Where security messages go (the notifier that sends mail over SMTP is a later service).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// A pickup directory the mail system reads: each message is written there as an RFC 5322
    /// `.eml` file. Unset: messages are not sent, and a warning names the user and the purpose.
    pub pickup_dir: Option<PathBuf>,
    /// The sender, an RFC 5322 mailbox (`Name <address>`).
    pub from: String,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self { pickup_dir: None, from: "Patty Palace <no-reply@pattypalace.example>".into() }
    }
}

/// Customers' personal data in events (crypto-shredding, see `privacy.rs`).
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyConfig {
    /// The master key that wraps every customer's data key (at least 32 characters); several
    /// replicas must share it. Empty: a key generated in the data directory (fine for one node).
    pub master_key: String,
}

impl std::fmt::Debug for PrivacyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivacyConfig").field("master_key", &redacted(&self.master_key)).finish()
    }
}

/// The HQ dashboard (`web/`, built with `npm --prefix web run build`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HqConfig {
    /// The built dashboard; `/` answers with a JSON 404 saying how to build it while it is absent.
    pub dir: PathBuf,
    /// Map tiles under the fleet map, `https://host/{z}/{x}/{y}.png` (Web Mercator); empty: the
    /// map is drawn from the cloud's own data alone.
    pub tiles: String,
    /// The tiles' attribution, shown with them.
    pub tiles_attribution: String,
}

impl Default for HqConfig {
    fn default() -> Self {
        Self { dir: PathBuf::from("web/dist/hq"), tiles: String::new(), tiles_attribution: String::new() }
    }
}

/// Dispatch, geofences and hand-over.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Seconds a driver has to answer an offer before it goes to the next.
    pub offer_timeout_secs: u64,
    /// Radius of an outlet's pickup zone, metres.
    pub pickup_radius_m: f64,
    /// Radius of a customer's drop-off zone, metres.
    pub dropoff_radius_m: f64,
    /// Wrong hand-over codes allowed before the code locks.
    pub code_attempts: u32,
    /// How long a hand-over code stays valid after the delivery is created, minutes.
    pub code_ttl_mins: u64,
    /// A driver whose last fix is older than this is not offered work, seconds.
    pub fresh_fix_secs: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            offer_timeout_secs: 30,
            pickup_radius_m: 60.0,
            dropoff_radius_m: 150.0,
            code_attempts: 5,
            code_ttl_mins: 180,
            fresh_fix_secs: 120,
        }
    }
}

/// The MQTT broker for driver telemetry.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    /// `mqtt://host:port`; empty: the embedded broker, or no telemetry when that is off too.
    pub url: String,
    /// User name for the cloud's session, if the broker wants one.
    pub username: String,
    /// Its password.
    pub password: String,
    /// The shared-subscription group: replicas in the same group split the fleet between them.
    /// Empty: a plain subscription (one replica), which on Mosquitto also survives a broker
    /// restart that happens while the cloud is away (a restored shared subscription of an offline
    /// session receives nothing until it reconnects: see `docs/ARCHITECTURE.md`).
    pub share_group: String,
    /// This replica's MQTT client id. Every replica needs its own: a broker drops the older of two
    /// connections with one id, so replicas sharing one would disconnect each other endlessly.
    /// Empty: `patty-cloud-GROUP-XXXXXXXX`, the suffix drawn once and kept in the data directory
    /// (`mqtt-client.id`), so a restarted replica resumes its own persistent session.
    pub client_id: String,
    /// PEM file of the CA(s) an `mqtts://` broker's certificate must chain to; none: the
    /// system's roots.
    pub ca_file: Option<PathBuf>,
    /// With no `url`, run a broker inside the cloud (the embedded default).
    pub embedded: bool,
    /// Where the embedded broker listens; a free port of the same address when this one is taken.
    pub embedded_listen: SocketAddr,
    /// Set at start when the embedded broker runs (`url` then points at it).
    #[serde(skip)]
    pub started_embedded: bool,
}

impl std::fmt::Debug for MqttConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttConfig")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("share_group", &self.share_group)
            .field("client_id", &self.client_id)
            .field("ca_file", &self.ca_file)
            .field("embedded", &self.embedded)
            .field("embedded_listen", &self.embedded_listen)
            .field("started_embedded", &self.started_embedded)
            .finish()
    }
}

/// How a secret shows in `Debug` output: that it is set, never what it is.
fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { "[redacted]" }
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            username: String::new(),
            password: String::new(),
            share_group: "patty-cloud".into(),
            client_id: String::new(),
            ca_file: None,
            embedded: true,
            embedded_listen: SocketAddr::from(([127, 0, 0, 1], 1883)),
            started_embedded: false,
        }
    }
}

impl MqttConfig {
    /// Host, port and whether the link is TLS, from `url`: `mqtt://host:port` or
    /// `mqtts://host:port`.
    pub fn host_port(&self) -> Option<(String, u16, bool)> {
        let (rest, tls) = match self.url.strip_prefix("mqtts://") {
            Some(rest) => (rest, true),
            None => (self.url.strip_prefix("mqtt://")?, false),
        };
        let (host, port) = rest.rsplit_once(':')?;
        Some((host.to_owned(), port.parse().ok()?, tls))
    }
}

/// Where the data lives.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://…` selects PostgreSQL; empty keeps a SQLite file in the data directory.
    /// `DATABASE_URL` is read too when this is empty.
    pub url: String,
    /// Most pooled connections (PostgreSQL).
    pub max_connections: u32,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        let shown = match self.url.split_once('@') {
            Some((_, host)) => format!("postgres://[redacted]@{host}"),
            None => self.url.clone(),
        };
        f.debug_struct("DatabaseConfig").field("url", &shown).field("max_connections", &self.max_connections).finish()
    }
}

/// Tokens and passwords.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Key for signing access tokens; several replicas must share it. Empty: a key generated in
    /// the data directory (fine for one node).
    pub jwt_secret: String,
    /// The `iss` of the access tokens this cloud signs; a token with another is refused.
    pub issuer: String,
    /// The `aud` of the access tokens (who they are for); a token with another is refused.
    pub audience: String,
    /// Access token lifetime, seconds.
    pub access_ttl_secs: u64,
    /// Refresh token lifetime, seconds.
    pub refresh_ttl_secs: u64,
    /// Email verification and password reset token lifetime, seconds.
    pub one_time_ttl_secs: u64,
    /// An HQ administrator created on first start when no user exists (`email:password`); empty for none.
    pub bootstrap_admin: String,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("jwt_secret", &redacted(&self.jwt_secret))
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_ttl_secs", &self.access_ttl_secs)
            .field("refresh_ttl_secs", &self.refresh_ttl_secs)
            .field("one_time_ttl_secs", &self.one_time_ttl_secs)
            .field("bootstrap_admin", &redacted(&self.bootstrap_admin))
            .finish()
    }
}

/// The HTTP front door.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Largest request body, bytes.
    pub body_bytes: usize,
    /// Origins allowed by CORS (`*` for any).
    pub cors_origins: Vec<String>,
    /// Requests per minute per client (token or address) before 429.
    pub rate_per_minute: u32,
    /// Requests a client may make at once above the rate.
    pub rate_burst: u32,
    /// Sign-in, registration and password-reset attempts per minute from one address.
    pub sign_in_per_address_per_minute: u32,
    /// Sign-in, registration and password-reset attempts per minute for one account (email).
    pub sign_in_per_account_per_minute: u32,
    /// Proxies (addresses or CIDR blocks) whose `X-Forwarded-For` names the client; from any
    /// other peer the header is ignored. Empty: the peer is the client.
    pub trusted_proxies: Vec<String>,
}

/// Kafka.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers (`host:port,host:port`); empty turns Kafka off.
    pub brokers: String,
    /// Prefix for every topic name (for shared clusters); empty for none.
    pub topic_prefix: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls: Default::default(),
            data_dir: PathBuf::from("data/cloud"),
            database: DatabaseConfig { url: String::new(), max_connections: 32 },
            auth: AuthConfig::default(),
            http: HttpConfig::default(),
            kafka: KafkaConfig::default(),
            mqtt: MqttConfig::default(),
            delivery: DeliveryConfig::default(),
            hq: HqConfig::default(),
            mail: MailConfig::default(),
            privacy: PrivacyConfig::default(),
            payments: PaymentsConfig::default(),
            notify: NotifyConfig::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: String::new(),
            issuer: "patty-cloud".into(),
            audience: "patty-palace".into(),
            access_ttl_secs: 15 * 60,
            refresh_ttl_secs: 30 * 24 * 3600,
            one_time_ttl_secs: 24 * 3600,
            bootstrap_admin: String::new(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_bytes: 256 * 1024,
            cors_origins: vec![],
            rate_per_minute: 600,
            rate_burst: 100,
            sign_in_per_address_per_minute: 20,
            sign_in_per_account_per_minute: 5,
            trusted_proxies: vec![],
        }
    }
}

impl Config {
    /// The defaults, on data directory `dir`.
    pub fn for_data_dir(dir: impl Into<PathBuf>) -> Self {
        Self { data_dir: dir.into(), ..Self::default() }
    }

    /// Defaults, then `file`, then `PATTY_…` variables (and `DATABASE_URL`) from `env`, then validation.
    pub fn load(
        file: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = env.into_iter().collect();
        let mut config: Config = patty_service::config::load(file, env.iter().cloned())?;
        if config.database.url.is_empty()
            && let Some((_, url)) = env.iter().find(|(k, _)| k == "DATABASE_URL")
        {
            config.database.url = url.clone();
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        self.tls.validate().map_err(ConfigError::Invalid)?;
        self.notify.validate()?;
        if self.notify.source == "kafka" && self.kafka.brokers.is_empty() {
            return Err(ConfigError::Invalid("notify.source = kafka needs kafka.brokers".into()));
        }
        let url = &self.database.url;
        if !(url.is_empty()
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || url.starts_with("sqlite:"))
        {
            return bad("database.url must be postgres://…, sqlite:… or empty");
        }
        if self.auth.access_ttl_secs == 0 || self.auth.refresh_ttl_secs < self.auth.access_ttl_secs {
            return bad("auth.access_ttl_secs must be positive and at most auth.refresh_ttl_secs");
        }
        if !self.auth.jwt_secret.is_empty() && self.auth.jwt_secret.len() < 32 {
            return bad("auth.jwt_secret must be at least 32 characters");
        }
        if self.auth.issuer.trim().is_empty() || self.auth.audience.trim().is_empty() {
            return bad("auth.issuer and auth.audience must not be empty");
        }
        if !self.privacy.master_key.is_empty() && self.privacy.master_key.len() < 32 {
            return bad("privacy.master_key must be at least 32 characters");
        }
        if !self.auth.bootstrap_admin.is_empty() && !self.auth.bootstrap_admin.contains(':') {
            return bad("auth.bootstrap_admin is email:password");
        }
        if !self.mqtt.url.is_empty() && self.mqtt.host_port().is_none() {
            return bad("mqtt.url must be mqtt://host:port or mqtts://host:port");
        }
        let tiles = &self.hq.tiles;
        if !tiles.is_empty()
            && (!(tiles.starts_with("http://") || tiles.starts_with("https://"))
                || !["{z}", "{x}", "{y}"].iter().all(|p| tiles.contains(p)))
        {
            return bad("hq.tiles must be an http(s) URL with {z}, {x} and {y}");
        }
        if self.mqtt.client_id.len() > 128 || self.mqtt.client_id.contains(['/', '+', '#']) {
            return bad(
                "mqtt.client_id must be at most 128 characters without '/', '+' or '#' (or empty for one of its own)",
            );
        }
        if self.mqtt.share_group.contains(['/', '+', '#']) {
            return bad("mqtt.share_group must be a name without '/', '+' or '#' (or empty for a plain subscription)");
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return bad("mail.from must be a mailbox, like `Patty Palace <no-reply@pattypalace.example>`");
        }
        let d = &self.delivery;
        if d.offer_timeout_secs == 0
            || d.code_attempts == 0
            || d.code_ttl_mins == 0
            || d.fresh_fix_secs == 0
            || !(10.0..=5_000.0).contains(&d.pickup_radius_m)
            || !(10.0..=5_000.0).contains(&d.dropoff_radius_m)
        {
            return bad(
                "delivery: offer_timeout_secs, code_attempts, code_ttl_mins and fresh_fix_secs must be positive, radii 10 to 5000 m",
            );
        }
        let h = &self.http;
        if h.rate_per_minute == 0
            || h.rate_burst == 0
            || h.sign_in_per_address_per_minute == 0
            || h.sign_in_per_account_per_minute == 0
            || h.body_bytes < 1024
            || self.database.max_connections == 0
        {
            return bad(
                "http.rate_per_minute, http.rate_burst, http.sign_in_per_address_per_minute, http.sign_in_per_account_per_minute, http.body_bytes (at least 1024) and database.max_connections must be positive",
            );
        }
        crate::infra::limits::Limits::new(h).map_err(ConfigError::Invalid)?;
        let p = &self.payments;
        if !["test", "stripe", "razorpay"].contains(&p.provider.as_str()) {
            return bad("payments.provider must be test, stripe or razorpay");
        }
        if patty_protocol::Currency::parse(&p.currency).is_none() {
            return bad("payments.currency must be a three-letter ISO 4217 code in capitals, like EUR");
        }
        if p.reconcile_secs == 0 || p.pending_secs == 0 || p.call_timeout_ms == 0 || p.webhook_tolerance_secs <= 0 {
            return bad(
                "payments.reconcile_secs, payments.pending_secs, payments.call_timeout_ms and payments.webhook_tolerance_secs must be positive",
            );
        }
        Ok(())
    }
}

/// A key from the configuration, or else the one kept in the data directory's `file` (made there
/// the first time).
pub fn key_or_file(
    configured: &str,
    data_dir: &std::path::Path,
    file: &str,
) -> Result<Vec<u8>, patty_service::error::Error> {
    if !configured.is_empty() {
        return Ok(configured.as_bytes().to_vec());
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| patty_service::error::Error::Internal(format!("create {}: {e}", data_dir.display())))?;
    let path = data_dir.join(file);
    patty_service::secret::load_or_create_key(&path)
        .map_err(|e| patty_service::error::Error::Internal(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_secret_shows_in_debug_output() {
        let mut c = Config::for_data_dir(std::path::PathBuf::from("data"));
        c.mqtt.password = "mqtt-pass-0123456789".into();
        c.auth.jwt_secret = "jwt-secret-0123456789-0123456789-0123".into();
        c.auth.bootstrap_admin = "hq@example.com:admin-pass-0123".into();
        c.privacy.master_key = "master-key-0123456789-0123456789-0123".into();
        let shown = format!("{c:?}");
        for secret in ["mqtt-pass-0123456789", "jwt-secret", "admin-pass", "master-key"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn database_url_comes_from_the_environment_and_is_redacted() {
        let env = [("DATABASE_URL".to_owned(), "postgres://u:hunter2@db/x".to_owned())];
        let c = Config::load(None, env).unwrap();
        assert_eq!(c.database.url, "postgres://u:hunter2@db/x");
        assert!(!format!("{c:?}").contains("hunter2"));
        let env = [("PATTY_DATABASE__URL".to_owned(), "mysql://x".to_owned())];
        assert!(Config::load(None, env).is_err());
        let env = [("PATTY_HTTP__CORS_ORIGINS".to_owned(), "https://a.example,https://b.example".to_owned())];
        assert_eq!(Config::load(None, env).unwrap().http.cors_origins.len(), 2);
    }

    #[test]
    fn map_tiles_need_an_http_url_with_their_coordinates() {
        let tiles = |t: &str| Config::load(None, [("PATTY_HQ__TILES".to_owned(), t.to_owned())]);
        assert_eq!(
            tiles("https://tiles.example/{z}/{x}/{y}.png").unwrap().hq.tiles,
            "https://tiles.example/{z}/{x}/{y}.png"
        );
        for bad in ["tiles.example/{z}/{x}/{y}.png", "https://tiles.example/{z}/{x}.png", "ftp://t/{z}/{x}/{y}"] {
            let e = tiles(bad).unwrap_err().to_string();
            assert!(e.contains("hq.tiles"), "{bad}: {e}");
        }
    }
}
