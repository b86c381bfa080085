//! `patty-driver`: the driver agent's command line.

use clap::{Parser, ValueEnum};
use patty_driver::buffer::Buffer;
use patty_driver::console;
use patty_driver::link::{self, Inbox, LinkConfig, LinkStats};
use patty_driver::policy::{Policy, Reporter};
use patty_driver::{Position, source};
use patty_protocol::delivery::{Command, Reply};
use patty_protocol::telemetry::{Fix, micro};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SourceKind {
    /// A simulated drive along `--route`.
    Simulate,
    /// JSON lines on stdin: {"lat":…, "lon":…, "accuracy":…, "speed":…, "heading":…, "time":…};
    /// other lines are the driver's answers.
    Stdin,
    /// NMEA 0183 sentences from `--nmea` (a file or a serial device).
    Nmea,
    /// gpsd's JSON reports from `--gpsd`.
    Gpsd,
}

/// Publishes a driver's position over MQTT, keeping fixes on disk while the link is down.
#[derive(Parser, Debug)]
#[command(name = "patty-driver", version)]
struct Args {
    /// This device's id (as its API key names it); also the MQTT topic's.
    #[arg(long)]
    device: String,
    /// The broker, host:port.
    #[arg(long, default_value = "127.0.0.1:1883")]
    broker: String,
    /// Broker user name (the password comes from PATTY_DRIVER_PASSWORD).
    #[arg(long)]
    username: Option<String>,
    /// Connect over TLS, trusting the system's root certificates (or `--tls-ca`).
    #[arg(long)]
    tls: bool,
    /// Connect over TLS, trusting the CA certificates in this PEM file.
    #[arg(long)]
    tls_ca: Option<PathBuf>,
    /// This device's client certificate (PEM chain) for TLS; needs `--tls-key`.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of `--tls-cert`.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Where positions come from.
    #[arg(long, value_enum, default_value = "simulate")]
    source: SourceKind,
    /// The simulated route: lat,lon;lat,lon;…
    #[arg(long, default_value = "52.3731,4.8926;52.3789,4.9003")]
    route: String,
    /// The simulated speed, km/h.
    #[arg(long, default_value_t = 30.0)]
    speed_kmh: f64,
    /// Real milliseconds per simulated second (1000: real time).
    #[arg(long, default_value_t = 1000)]
    tick_ms: u64,
    /// NMEA input.
    #[arg(long)]
    nmea: Option<PathBuf>,
    /// Milliseconds between NMEA lines read from a file (0: as fast as read).
    #[arg(long, default_value_t = 0)]
    nmea_pace_ms: u64,
    /// gpsd's address.
    #[arg(long, default_value = "127.0.0.1:2947")]
    gpsd: String,
    /// The buffer file.
    #[arg(long, default_value = "data/driver/buffer.db")]
    buffer: PathBuf,
    /// Most fixes kept while the link is down (the oldest go first).
    #[arg(long, default_value_t = 100_000)]
    buffer_max: u64,
    /// Seconds between reports.
    #[arg(long, default_value_t = 10)]
    interval: u64,
    /// Report sooner after this many metres (0: never).
    #[arg(long, default_value_t = 200.0)]
    distance: f64,
    /// Report sooner after a turn of this many degrees (0: never).
    #[arg(long, default_value_t = 30.0)]
    turn: f64,
    /// Seconds between reports while parked.
    #[arg(long, default_value_t = 60)]
    parked_interval: u64,
    /// The job (delivery) number to put on fixes.
    #[arg(long)]
    job: Option<u32>,
    /// Battery percent to report (unknown when absent).
    #[arg(long)]
    battery: Option<u8>,
    /// Accept every offer at once (a simulated driver).
    #[arg(long)]
    auto_accept: bool,
    /// Stop once the source has ended and every fix is acknowledged.
    #[arg(long)]
    exit_when_sent: bool,
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("patty-driver: {msg}");
    std::process::exit(2);
}

fn to_fix(p: &Position, seq: u32, job: Option<u32>, battery: Option<u8>) -> Fix {
    Fix {
        seq,
        time_s: u32::try_from(p.time_s).unwrap_or(u32::MAX),
        lat_u: micro(p.lat),
        lon_u: micro(p.lon),
        accuracy_m: p.accuracy_m.round().clamp(0.0, 65_535.0) as u16,
        speed_dms: (p.speed_mps * 10.0).round().clamp(0.0, 65_535.0) as u16,
        heading_deg: (p.heading_deg.round() as i64).rem_euclid(360) as u16,
        battery_pct: battery.unwrap_or(255),
        job,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::try_parse().unwrap_or_else(|e| {
        if e.use_stderr() {
            // Clap's message on one line, without its usage and tips.
            let text = e.to_string();
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("tip:"))
                .filter(|l| !l.is_empty())
                .collect();
            fail(lines.join(" ").trim_start_matches("error: "));
        }
        e.exit()
    });
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let (host, port) = args
        .broker
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
        .unwrap_or_else(|| fail(format!("--broker {:?} is not host:port", args.broker)));
    if args.device.is_empty() || args.device.contains(['/', '+', '#']) {
        fail("--device must be non-empty and free of '/', '+' and '#'");
    }
    if args.speed_kmh <= 0.0 || !args.speed_kmh.is_finite() {
        fail("--speed-kmh must be positive");
    }
    if args.battery.is_some_and(|b| b > 100) {
        fail("--battery is a percentage, 0 to 100");
    }
    let tls = (args.tls || args.tls_ca.is_some() || args.tls_cert.is_some()).then(|| {
        let identity = args.tls_cert.as_deref().zip(args.tls_key.as_deref());
        patty_driver::tls::client_config(args.tls_ca.as_deref(), identity).unwrap_or_else(|e| fail(format!("TLS: {e}")))
    });
    let route = source::parse_route(&args.route).unwrap_or_else(|e| fail(format!("--route: {e}")));
    if matches!(args.source, SourceKind::Nmea) && args.nmea.is_none() {
        fail("--source nmea needs --nmea PATH");
    }
    if let Some(dir) = args.buffer.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| fail(format!("--buffer {}: {e}", dir.display())));
    }
    let buffer = Buffer::open(&args.buffer, args.buffer_max)
        .unwrap_or_else(|e| fail(format!("--buffer {}: {e}", args.buffer.display())));
    let buffer = Arc::new(Mutex::new(buffer));
    let wake = Arc::new(Notify::new());
    let stats = Arc::new(Mutex::new(LinkStats::default()));
    let (stop, shutdown) = watch::channel(false);

    let (tx, mut positions) = mpsc::channel::<Position>(256);
    let (answer_tx, mut answers) = mpsc::channel::<Reply>(64);
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    // Stdin carries the driver's answers, and the positions too with `--source stdin`.
    let mut stdin_positions = None;
    match args.source {
        SourceKind::Simulate => {
            tokio::spawn(source::simulate(route, args.speed_kmh / 3.6, Duration::from_millis(args.tick_ms), tx));
        }
        SourceKind::Stdin => stdin_positions = Some(tx),
        SourceKind::Nmea => {
            let path = args.nmea.clone().unwrap_or_default();
            let file =
                tokio::fs::File::open(&path).await.unwrap_or_else(|e| fail(format!("--nmea {}: {e}", path.display())));
            tokio::spawn(source::nmea(tokio::io::BufReader::new(file), Duration::from_millis(args.nmea_pace_ms), tx));
        }
        SourceKind::Gpsd => {
            tokio::spawn(source::gpsd(args.gpsd.clone(), tx));
        }
    }
    tokio::spawn(console::read(stdin, stdin_positions, answer_tx));
    let (command_tx, mut commands) = mpsc::unbounded_channel::<Command>();
    let inbox = Inbox { commands: command_tx, replies: Default::default() };
    let cfg = LinkConfig {
        host,
        port,
        device: args.device.clone(),
        credentials: args.username.clone().map(|u| (u, std::env::var("PATTY_DRIVER_PASSWORD").unwrap_or_default())),
        keep_alive: Duration::from_secs(10),
        max_inflight: 100,
        tls,
    };
    let link =
        tokio::spawn(link::run(cfg, buffer.clone(), wake.clone(), stats.clone(), inbox.clone(), shutdown.clone()));

    let policy = Policy {
        interval_s: args.interval,
        distance_m: args.distance,
        turn_deg: args.turn,
        parked_mps: 0.5,
        parked_interval_s: args.parked_interval,
    };
    let mut reporter = Reporter::new(policy);
    let mut source_ended = false;
    // The job the cloud assigned, put on fixes until it ends.
    let mut job = args.job;
    let answer = |reply: Reply| {
        inbox.replies.lock().unwrap_or_else(|e| e.into_inner()).push_back(reply);
        wake.notify_one();
    };
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        tokio::select! {
            p = positions.recv(), if !source_ended => match p {
                Some(p) => {
                    if reporter.offer(&p) {
                        let mut b = buffer.lock().unwrap_or_else(|e| e.into_inner());
                        let stored = b.next_seq().and_then(|seq| b.push(&to_fix(&p, seq, job, args.battery).encode()));
                        if let Err(e) = stored {
                            tracing::error!(error = %e, "the buffer refused a fix");
                        }
                        wake.notify_one();
                    }
                }
                None => {
                    source_ended = true;
                    tracing::info!("the position source ended");
                }
            },
            Some(cmd) = commands.recv() => {
                println!("{}", console::describe(&cmd));
                match cmd {
                    Command::Offer { job: offered, .. } if args.auto_accept => answer(Reply::Accept { job: offered }),
                    Command::Assigned { job: assigned } => job = Some(assigned),
                    Command::Cancel { job: ended, .. } | Command::CodeResult { job: ended, ok: true, .. }
                        if job == Some(ended) => job = None,
                    _ => {}
                }
            }
            Some(reply) = answers.recv() => answer(reply),
            _ = tokio::time::sleep(Duration::from_millis(100)), if source_ended => {}
            _ = &mut ctrl_c => break,
        }
        if source_ended && args.exit_when_sent && buffer.lock().map(|b| b.is_empty().unwrap_or(false)).unwrap_or(false)
        {
            break;
        }
    }
    let _ = stop.send(true);
    let _ = link.await;
    let s = *stats.lock().unwrap_or_else(|e| e.into_inner());
    let waiting = buffer.lock().map(|b| b.len().unwrap_or(0)).unwrap_or(0);
    let dropped = buffer.lock().map(|b| b.dropped).unwrap_or(0);
    tracing::info!(acked = s.acked, connections = s.connections, waiting, dropped, "patty-driver stopped");
}
