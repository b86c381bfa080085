//! Where positions come from: a simulated drive along a route, JSON lines (stdin), NMEA 0183
//! sentences (a file or a serial device read as a file), or gpsd's JSON reports over TCP.
//! Each source sends positions into a channel until it ends; a line it cannot read is reported
//! once on stderr and skipped.

use crate::{Position, bearing_deg, distance_m};
use serde::Deserialize;
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc::Sender;

/// Wall-clock time, Unix seconds.
pub fn now_s() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Parses a route: `lat,lon;lat,lon;…` (at least two points, coordinates in range).
pub fn parse_route(s: &str) -> Result<Vec<(f64, f64)>, String> {
    let points = s
        .split(';')
        .map(|p| {
            let (lat, lon) = p.split_once(',').ok_or_else(|| format!("route point {p:?} is not lat,lon"))?;
            let lat: f64 = lat.trim().parse().map_err(|_| format!("latitude {lat:?} is not a number"))?;
            let lon: f64 = lon.trim().parse().map_err(|_| format!("longitude {lon:?} is not a number"))?;
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err(format!("route point {lat},{lon} is out of range"));
            }
            Ok((lat, lon))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if points.len() < 2 {
        return Err("a route needs at least two points".into());
    }
    Ok(points)
}

/// The positions of a drive along `route` at `speed_mps`, one per simulated second from `start_s`,
/// ending parked at the last point.
pub fn drive(route: &[(f64, f64)], speed_mps: f64, start_s: u64) -> Vec<Position> {
    let mut out = Vec::new();
    let mut t = start_s;
    for leg in route.windows(2) {
        let (a, b) = (leg[0], leg[1]);
        let len = distance_m(a, b);
        let heading = bearing_deg(a, b);
        let steps = (len / speed_mps.max(0.1)).ceil().max(1.0) as u64;
        for i in 0..steps {
            let f = i as f64 / steps as f64;
            out.push(Position {
                lat: a.0 + (b.0 - a.0) * f,
                lon: a.1 + (b.1 - a.1) * f,
                accuracy_m: 5.0,
                speed_mps,
                heading_deg: heading,
                time_s: t,
            });
            t += 1;
        }
    }
    let last = *route.last().expect("a route has points");
    let heading = out.last().map_or(0.0, |p| p.heading_deg);
    out.push(Position { lat: last.0, lon: last.1, accuracy_m: 5.0, speed_mps: 0.0, heading_deg: heading, time_s: t });
    out
}

/// Feeds a simulated drive, one simulated second every `tick`. Faster than real time, it is a
/// replay of a drive that ends about now, so no fix is stamped in the future.
pub async fn simulate(route: Vec<(f64, f64)>, speed_mps: f64, tick: Duration, tx: Sender<Position>) {
    let seconds = drive(&route, speed_mps, 0).len() as u64;
    let start = if tick < Duration::from_secs(1) { now_s().saturating_sub(seconds) } else { now_s() };
    for p in drive(&route, speed_mps, start) {
        if tx.send(p).await.is_err() {
            return;
        }
        tokio::time::sleep(tick).await;
    }
}

/// A position as a JSON line: `{"lat":…, "lon":…, "accuracy":…, "speed":…, "heading":…, "time":…}`
/// (accuracy, speed, heading and time optional; time in Unix seconds, now when absent).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonFix {
    lat: f64,
    lon: f64,
    #[serde(default)]
    accuracy: Option<f64>,
    #[serde(default)]
    speed: Option<f64>,
    #[serde(default)]
    heading: Option<f64>,
    #[serde(default)]
    time: Option<u64>,
}

/// Reads one JSON line.
pub fn parse_json_line(line: &str) -> Result<Position, String> {
    let f: JsonFix = serde_json::from_str(line).map_err(|e| format!("not a position: {e}"))?;
    if !(-90.0..=90.0).contains(&f.lat) || !(-180.0..=180.0).contains(&f.lon) {
        return Err(format!("coordinates {},{} are out of range", f.lat, f.lon));
    }
    Ok(Position {
        lat: f.lat,
        lon: f.lon,
        accuracy_m: f.accuracy.unwrap_or(10.0),
        speed_mps: f.speed.unwrap_or(0.0),
        heading_deg: f.heading.unwrap_or(0.0).rem_euclid(360.0),
        time_s: f.time.unwrap_or_else(now_s),
    })
}

/// NMEA state carried between sentences: GGA gives the fix quality, RMC the rest.
#[derive(Default)]
pub struct Nmea {
    accuracy_m: f64,
}

fn nmea_coord(v: &str, hemi: &str, deg_digits: usize) -> Option<f64> {
    if v.len() < deg_digits + 2 {
        return None;
    }
    let deg: f64 = v[..deg_digits].parse().ok()?;
    let min: f64 = v[deg_digits..].parse().ok()?;
    let x = deg + min / 60.0;
    Some(if hemi == "S" || hemi == "W" { -x } else { x })
}

fn nmea_checksum_ok(sentence: &str) -> bool {
    let Some(body) = sentence.strip_prefix('$') else { return false };
    let Some((data, sum)) = body.split_once('*') else { return false };
    let want = u8::from_str_radix(sum.trim(), 16);
    want.is_ok_and(|w| data.bytes().fold(0u8, |a, b| a ^ b) == w)
}

impl Nmea {
    /// Reads one sentence: a position for a valid RMC, `None` for other sentences.
    pub fn sentence(&mut self, line: &str) -> Result<Option<Position>, String> {
        let line = line.trim();
        if line.is_empty() {
            return Ok(None);
        }
        if !nmea_checksum_ok(line) {
            return Err(format!("bad NMEA sentence or checksum: {line:?}"));
        }
        let data = &line[1..line.find('*').unwrap_or(line.len())];
        let f: Vec<&str> = data.split(',').collect();
        let kind = f[0].get(2..).unwrap_or_default();
        match kind {
            "GGA" if f.len() > 8 => {
                // Horizontal dilution of precision times a typical receiver's 5 m.
                if let Ok(hdop) = f[8].parse::<f64>() {
                    self.accuracy_m = (hdop * 5.0).max(1.0);
                }
                Ok(None)
            }
            "RMC" if f.len() > 9 => {
                if f[2] != "A" {
                    return Ok(None); // no fix
                }
                let lat = nmea_coord(f[3], f[4], 2).ok_or("bad RMC latitude")?;
                let lon = nmea_coord(f[5], f[6], 3).ok_or("bad RMC longitude")?;
                let knots: f64 = f[7].parse().unwrap_or(0.0);
                let course: f64 = f[8].parse().unwrap_or(0.0);
                let time_s = rmc_time(f[1], f[9]).unwrap_or_else(now_s);
                Ok(Some(Position {
                    lat,
                    lon,
                    accuracy_m: if self.accuracy_m > 0.0 { self.accuracy_m } else { 10.0 },
                    speed_mps: knots * 0.514_444,
                    heading_deg: course.rem_euclid(360.0),
                    time_s,
                }))
            }
            _ => Ok(None),
        }
    }
}

/// `hhmmss(.ss)` and `ddmmyy` to Unix seconds.
fn rmc_time(hms: &str, dmy: &str) -> Option<u64> {
    if hms.len() < 6 || dmy.len() != 6 {
        return None;
    }
    let n = |s: &str| s.parse::<i64>().ok();
    let (h, mi, s) = (n(&hms[0..2])?, n(&hms[2..4])?, n(&hms[4..6])?);
    // Two-digit years: 80 to 99 are the 1900s (GPS began in 1980), the rest the 2000s.
    let yy = n(&dmy[4..6])?;
    let (d, mo, y) = (n(&dmy[0..2])?, n(&dmy[2..4])?, if yy >= 80 { 1900 + yy } else { 2000 + yy });
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y2, m2) = if mo <= 2 { (y - 1, mo + 9) } else { (y, mo - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + s).ok()
}

/// Feeds NMEA sentences from `input`, one line every `pace` (zero: as fast as read).
pub async fn nmea(input: impl AsyncBufRead + Unpin, pace: Duration, tx: Sender<Position>) {
    let mut state = Nmea::default();
    lines(input, tx, move |line, _| {
        let p = state.sentence(line);
        if !pace.is_zero() {
            std::thread::sleep(pace);
        }
        p
    })
    .await
}

/// A gpsd time-position-velocity report.
#[derive(Deserialize)]
struct Tpv {
    class: String,
    #[serde(default)]
    mode: u8,
    lat: Option<f64>,
    lon: Option<f64>,
    #[serde(default)]
    speed: Option<f64>,
    #[serde(default)]
    track: Option<f64>,
    #[serde(default)]
    eph: Option<f64>,
    #[serde(default)]
    epx: Option<f64>,
}

/// Reads one gpsd JSON report: a position for a 2D or 3D TPV, `None` for anything else.
pub fn parse_gpsd(line: &str) -> Result<Option<Position>, String> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("not gpsd JSON: {e}"))?;
    if v["class"] != "TPV" {
        return Ok(None);
    }
    let t: Tpv = serde_json::from_value(v).map_err(|e| format!("bad TPV: {e}"))?;
    debug_assert_eq!(t.class, "TPV");
    let (Some(lat), Some(lon)) = (t.lat, t.lon) else { return Ok(None) };
    if t.mode < 2 {
        return Ok(None);
    }
    Ok(Some(Position {
        lat,
        lon,
        accuracy_m: t.eph.or(t.epx).unwrap_or(10.0),
        speed_mps: t.speed.unwrap_or(0.0),
        heading_deg: t.track.unwrap_or(0.0).rem_euclid(360.0),
        time_s: now_s(),
    }))
}

/// Follows gpsd at `addr` (host:port, 2947 by default), reconnecting when it goes away.
pub async fn gpsd(addr: String, tx: Sender<Position>) {
    loop {
        match tokio::net::TcpStream::connect(&addr).await {
            Ok(mut stream) => {
                if stream.write_all(b"?WATCH={\"enable\":true,\"json\":true}\n").await.is_ok() {
                    let (read, _write) = stream.into_split();
                    let done = tx.clone();
                    lines(BufReader::new(read), done, |line, _| parse_gpsd(line)).await;
                }
                tracing::warn!(%addr, "gpsd closed the connection; reconnecting");
            }
            Err(e) => tracing::warn!(%addr, error = %e, "gpsd is not reachable; retrying"),
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Reads lines, turning each into a position with `parse`; unreadable lines are reported (the
/// first of each kind of error once) and skipped.
pub(crate) async fn lines<T>(
    input: impl AsyncBufRead + Unpin,
    tx: Sender<T>,
    mut parse: impl FnMut(&str, usize) -> Result<Option<T>, String>,
) {
    let mut lines = input.lines();
    let mut n = 0;
    let mut reported = 0;
    while let Ok(Some(line)) = lines.next_line().await {
        n += 1;
        match parse(&line, n) {
            Ok(Some(p)) => {
                if tx.send(p).await.is_err() {
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => {
                reported += 1;
                if reported <= 10 {
                    eprintln!("line {n}: {e}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drive_follows_its_route_at_its_speed() {
        let route = parse_route("52.3731,4.8926; 52.3789,4.9003").unwrap();
        let d = drive(&route, 10.0, 1000);
        let len = distance_m(route[0], route[1]);
        assert_eq!(d.len() as f64, (len / 10.0).ceil() + 1.0);
        assert_eq!((d[0].lat, d[0].lon), route[0]);
        assert_eq!((d.last().unwrap().lat, d.last().unwrap().lon), route[1]);
        assert_eq!(d.last().unwrap().speed_mps, 0.0);
        assert!(d.windows(2).all(|w| w[1].time_s == w[0].time_s + 1));
        assert!(parse_route("52,4").is_err());
        assert!(parse_route("52,4;91,4").is_err());
        assert!(parse_route("52,4;x,4").is_err());
    }

    #[test]
    fn json_lines_are_checked() {
        let p = parse_json_line(r#"{"lat":52.37,"lon":4.89,"speed":3.5,"heading":-90,"time":1700000000}"#).unwrap();
        assert_eq!((p.lat, p.lon, p.speed_mps, p.heading_deg, p.time_s), (52.37, 4.89, 3.5, 270.0, 1_700_000_000));
        assert!(parse_json_line(r#"{"lat":95,"lon":4.89}"#).is_err());
        assert!(parse_json_line(r#"{"lat":52,"lon":4,"altitude":3}"#).is_err());
        assert!(parse_json_line("not json").is_err());
    }

    #[test]
    fn nmea_sentences_are_read_with_their_checksums() {
        let mut n = Nmea::default();
        assert_eq!(n.sentence("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47").unwrap(), None);
        let p = n.sentence("$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A").unwrap().unwrap();
        assert!((p.lat - 48.1173).abs() < 1e-4 && (p.lon - 11.516_666).abs() < 1e-4, "{p:?}");
        assert!((p.speed_mps - 11.52).abs() < 0.01);
        assert_eq!(p.heading_deg, 84.4);
        assert_eq!(p.accuracy_m, 4.5);
        assert_eq!(p.time_s, 764_426_119); // 1994-03-23 12:35:19 UTC
        assert!(n.sentence("$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6B").is_err());
        assert_eq!(n.sentence("$GPRMC,123519,V,,,,,,,230394,,*33").unwrap(), None, "no fix yet");
    }

    #[test]
    fn gpsd_reports_are_read() {
        let p = parse_gpsd(r#"{"class":"TPV","mode":3,"lat":52.37,"lon":4.89,"speed":4.0,"track":12.5,"eph":6.0}"#)
            .unwrap()
            .unwrap();
        assert_eq!((p.lat, p.lon, p.speed_mps, p.heading_deg, p.accuracy_m), (52.37, 4.89, 4.0, 12.5, 6.0));
        assert_eq!(parse_gpsd(r#"{"class":"SKY","satellites":[]}"#).unwrap(), None);
        assert_eq!(parse_gpsd(r#"{"class":"TPV","mode":1}"#).unwrap(), None);
        assert!(parse_gpsd("{").is_err());
    }
}
