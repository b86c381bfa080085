//! The command line, and the checks clap cannot make on its own.

use clap::Parser;
use std::path::PathBuf;

/// A whole Patty Palace chain in one process, live: the cloud, outlets with their staff, drivers
/// on the road and customers ordering, with a summary line every two seconds. Ctrl-C stops it;
/// the next run resumes from the data directory.
#[derive(Parser, Debug, Clone)]
#[command(name = "patty-demo", version)]
pub struct Options {
    /// Outlets, each an edge node with the sample menu, stock and staff.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=200))]
    pub outlets: u64,
    /// Drivers on the road.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub drivers: u64,
    /// Orders per minute across the chain at the quiet times of day (online and at the counter);
    /// lunch brings about three times as many, dinner more than twice.
    #[arg(long, default_value_t = 6.0)]
    pub rate: f64,
    /// Real minutes the demo's trading day (10:00 to 22:00) takes; then the next day begins.
    #[arg(long, default_value_t = 10.0)]
    pub day_mins: f64,
    /// How much faster than life kitchens and roads run (1 to 8): prep times are divided by it
    /// and drivers go this many times 30 km/h (at 8, 240 km/h: still under the 70 m/s the cloud
    /// believes of a car).
    #[arg(long, default_value_t = 4.0)]
    pub pace: f64,
    /// Where the cloud's database, the edges' databases, the drivers' buffers and the demo's own
    /// state (the edges' API keys) live; the next run resumes from it.
    #[arg(long, default_value = "data/demo")]
    pub data_dir: PathBuf,
    /// PostgreSQL for the cloud (`postgres://user@host/db`) instead of SQLite in the data directory.
    #[arg(long)]
    pub database_url: Option<String>,
    /// An MQTT broker for the drivers' telemetry (`mqtt://host:port`, Mosquitto for example)
    /// instead of the cloud's embedded one.
    #[arg(long)]
    pub mqtt_url: Option<String>,
    /// Kafka bootstrap servers (`host:port,…`); without them Kafka is off.
    #[arg(long)]
    pub kafka_brokers: Option<String>,
    /// Cut this outlet's (1 to --outlets) link to the cloud for a while: it keeps selling, and
    /// catches up when the link returns.
    #[arg(long)]
    pub cut_outlet: Option<u64>,
    /// How long the cut lasts, seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub cut_secs: u64,
    /// Seconds after the start (once everything is up) that the cut begins.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub cut_after: u64,
    /// Stop by itself after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub duration_secs: Option<u64>,
    /// The cloud's HTTP port (a free one when taken; 0: any free port).
    #[arg(long, default_value_t = 8400)]
    pub port: u16,
    /// The first edge's HTTP port; the next outlets take the ports after it (each a free one when
    /// taken; 0: any free ports).
    #[arg(long, default_value_t = 8481)]
    pub edge_port: u16,
    /// The embedded MQTT broker's port (a free one when taken; 0: any free port).
    #[arg(long, default_value_t = 1883)]
    pub mqtt_port: u16,
}

impl Options {
    /// Checks what parsed but makes no sense; the message names the option.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= 600.0) {
            return Err(format!("--rate must be above 0 and at most 600 orders a minute, not {}", self.rate));
        }
        if !(self.day_mins.is_finite() && (1.0..=1440.0).contains(&self.day_mins)) {
            return Err(format!("--day-mins must be 1 to 1440, not {}", self.day_mins));
        }
        if !(self.pace.is_finite() && (1.0..=8.0).contains(&self.pace)) {
            return Err(format!("--pace must be 1 to 8, not {}", self.pace));
        }
        if let Some(n) = self.cut_outlet
            && !(1..=self.outlets).contains(&n)
        {
            return Err(format!("--cut-outlet must be 1 to {} (the number of outlets), not {n}", self.outlets));
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(format!("--database-url must be postgres://…, not {url:?}"));
        }
        if let Some(url) = &self.mqtt_url
            && mqtt_host_port(url).is_none()
        {
            return Err(format!("--mqtt-url must be mqtt://host:port, not {url:?}"));
        }
        if let Some(brokers) = &self.kafka_brokers
            && (brokers.trim().is_empty() || brokers.split(',').any(|b| b.trim().rsplit_once(':').is_none()))
        {
            return Err(format!("--kafka-brokers must be host:port[,host:port…], not {brokers:?}"));
        }
        Ok(())
    }
}

/// Host and port of `mqtt://host:port`.
pub fn mqtt_host_port(url: &str) -> Option<(String, u16)> {
    let (host, port) = url.strip_prefix("mqtt://")?.rsplit_once(':')?;
    if host.is_empty() {
        return None;
    }
    Some((host.to_owned(), port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        let o = Options::try_parse_from(std::iter::once("patty-demo").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        o.validate()?;
        Ok(o)
    }

    #[test]
    fn defaults_are_a_lively_chain_and_bad_values_name_their_option() {
        let o = parse(&[]).unwrap();
        assert_eq!((o.outlets, o.drivers, o.port, o.edge_port), (3, 10, 8400, 8481));
        assert!(parse(&["--outlets", "0"]).unwrap_err().contains("--outlets"));
        assert!(parse(&["--rate", "0"]).unwrap_err().contains("--rate"));
        assert!(parse(&["--pace", "9"]).unwrap_err().contains("--pace"));
        assert!(parse(&["--cut-outlet", "4"]).unwrap_err().contains("--cut-outlet"));
        assert!(parse(&["--mqtt-url", "tcp://broker:1883"]).unwrap_err().contains("--mqtt-url"));
        assert!(parse(&["--mqtt-url", "mqtt://broker"]).unwrap_err().contains("--mqtt-url"));
        assert!(parse(&["--database-url", "mysql://db"]).unwrap_err().contains("--database-url"));
        assert!(parse(&["--kafka-brokers", "kafka"]).unwrap_err().contains("--kafka-brokers"));
        let o = parse(&["--mqtt-url", "mqtt://127.0.0.1:1884", "--cut-outlet", "2"]).unwrap();
        assert_eq!(mqtt_host_port(o.mqtt_url.as_deref().unwrap()), Some(("127.0.0.1".into(), 1884)));
    }
}
