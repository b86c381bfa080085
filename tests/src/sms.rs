//! A Kannel SMS gateway of the test's own on free loopback ports (Debian's `kannel` and
//! `kannel-extras`): the bearerbox, Kannel's fake SMS centre (`fakesmsc`) connected to it as the
//! network, and the smsbox whose sendsms interface the cloud's SMS channel calls. Its config and
//! logs live in a temp dir; the three are killed on drop.
//!
//! What reaches the "network" is read back from fakesmsc's log ([`Kannel::received`]): it logs
//! every message the bearerbox sends it as `Got message N: <from to type body>`, where `type` is
//! `text` (the body as is, in UTF-8), `ucs-2` (the body's UTF-16BE bytes, URL-encoded) or `data`
//! (bytes, URL-encoded). A part of a concatenated message is `udh UDH data body`: the user data
//! header URL-encoded (`%05%00%03`, the reference, the parts, this part's number), then the
//! part's bytes URL-encoded, UTF-8 or UTF-16BE (GSM or UCS-2 text) with nothing saying which.
//! fakesmsc's protocol is one message a line, so a text with a newline shows as a message and a
//! line of its own after it; [`parse_received`] joins such lines back.
//!
//! fakesmsc must send a message of its own to stay connected: it sends one, to which an
//! `sms-service` here answers nothing, so that only the messages a test sends are received.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The sendsms user's name.
pub const USERNAME: &str = "patty";
/// The sendsms user's password.
pub const PASSWORD: &str = "sendsms-secret-7f3a";
/// How many parts Kannel may split a long text into (`max-messages`, concatenated).
pub const MAX_PARTS: usize = 3;

const BEARERBOX: &str = "/usr/sbin/bearerbox";
const SMSBOX: &str = "/usr/sbin/smsbox";
const FAKESMSC: &str = "/usr/lib/kannel/test/fakesmsc";
const ADMIN_PASSWORD: &str = "admin-secret";
const START_DEADLINE: Duration = Duration::from_secs(20);

/// A message as the fake SMS centre got it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The sender.
    pub from: String,
    /// The receiver.
    pub to: String,
    /// The text, decoded.
    pub text: String,
}

/// A running Kannel: bearerbox, fakesmsc and (unless stopped) smsbox.
pub struct Kannel {
    dir: tempfile::TempDir,
    admin_port: u16,
    sendsms_port: u16,
    bearerbox: Child,
    fakesmsc: Child,
    smsbox: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// The configuration for the gateway: every listener on loopback, logs in `dir`.
fn config(dir: &Path, admin: u16, boxes: u16, smsc: u16, sendsms: u16) -> String {
    let d = dir.display();
    format!(
        r#"group = core
admin-port = {admin}
admin-interface = 127.0.0.1
admin-password = {ADMIN_PASSWORD}
status-password = {ADMIN_PASSWORD}
admin-allow-ip = 127.0.0.1
smsbox-port = {boxes}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{d}/bearerbox.log"
log-level = 0
access-log = "{d}/access.log"

group = smsc
smsc = fake
smsc-id = fake
port = {smsc}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {boxes}
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
log-file = "{d}/smsbox.log"
log-level = 0

group = sendsms-user
username = {USERNAME}
password = {PASSWORD}
concatenation = true
max-messages = {MAX_PARTS}

group = sms-service
keyword = default
text = "nothing"
max-messages = 0
"#
    )
}

/// A log file in `dir` for a child's stdout and stderr.
fn log_to(dir: &Path, name: &str) -> (Stdio, Stdio) {
    let file = std::fs::File::create(dir.join(name)).expect("create a log file");
    let again = file.try_clone().expect("clone a log file");
    (Stdio::from(file), Stdio::from(again))
}

fn spawn(bin: &str, args: &[&str], dir: &Path, log: &str) -> Child {
    let (out, err) = log_to(dir, log);
    Command::new(bin)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("start {bin}: {e}"))
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

impl Kannel {
    /// Starts bearerbox, fakesmsc and smsbox on free loopback ports and waits (20 s at most)
    /// until the fake SMS centre is online and the sendsms interface answers with the smsbox
    /// connected. Panics if Kannel is not installed, or does not come up in time.
    pub fn start() -> Kannel {
        for bin in [BEARERBOX, SMSBOX, FAKESMSC] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: apt-get install kannel kannel-extras (./scripts/test installs them)"
            );
        }
        let dir = tempfile::tempdir().expect("a temp dir");
        let (admin_port, box_port, smsc_port, sendsms_port) = (free_port(), free_port(), free_port(), free_port());
        let conf = dir.path().join("kannel.conf");
        std::fs::write(&conf, config(dir.path(), admin_port, box_port, smsc_port, sendsms_port))
            .expect("write kannel.conf");
        let bearerbox = spawn(BEARERBOX, &[&conf.to_string_lossy()], dir.path(), "bearerbox.out");
        let fakesmsc = Self::spawn_fakesmsc(dir.path(), smsc_port);
        let mut k = Kannel { dir, admin_port, sendsms_port, bearerbox, fakesmsc, smsbox: None };
        let deadline = Instant::now() + START_DEADLINE;
        k.wait_for(deadline, "the bearerbox's fake SMSC online", |k| {
            // fakesmsc gives up if it came before the bearerbox listened: start it again.
            if k.fakesmsc.try_wait().ok().flatten().is_some() {
                k.fakesmsc = Self::spawn_fakesmsc(k.dir.path(), smsc_port);
            }
            k.status().is_some_and(|s| s.lines().any(|l| l.contains("fake[fake]") && l.contains("(online")))
        });
        k.start_smsbox();
        k
    }

    /// fakesmsc sends one message (it must send to stay connected) and then only listens.
    fn spawn_fakesmsc(dir: &Path, port: u16) -> Child {
        let port = port.to_string();
        let args = ["-H", "127.0.0.1", "-r", &port, "-i", "0.1", "-m", "1", "100 200 text hello"];
        spawn(FAKESMSC, &args, dir, "fakesmsc.log")
    }

    fn wait_for(&mut self, deadline: Instant, what: &str, mut ready: impl FnMut(&mut Self) -> bool) {
        while !ready(self) {
            if Instant::now() > deadline {
                panic!("Kannel: no {what} in time; logs in {}:\n{}", self.dir.path().display(), self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The bearerbox's `status.txt`, `None` while it does not answer.
    pub fn status(&self) -> Option<String> {
        let path = format!("/status.txt?password={ADMIN_PASSWORD}");
        http_get(self.admin_port, &path)
    }

    fn smsbox_connected(&self) -> bool {
        self.status().is_some_and(|s| s.lines().any(|l| l.trim_start().starts_with("smsbox:")))
    }

    fn sendsms_answers(&self) -> bool {
        TcpStream::connect(("127.0.0.1", self.sendsms_port)).is_ok()
    }

    /// Starts the smsbox (again) and waits until its sendsms interface answers and it is
    /// connected to the bearerbox.
    pub fn start_smsbox(&mut self) {
        if self.smsbox.is_some() {
            return;
        }
        let conf = self.dir.path().join("kannel.conf");
        self.smsbox = Some(spawn(SMSBOX, &[&conf.to_string_lossy()], self.dir.path(), "smsbox.out"));
        let deadline = Instant::now() + START_DEADLINE;
        self.wait_for(deadline, "smsbox answering and connected", |k| k.sendsms_answers() && k.smsbox_connected());
    }

    /// Kills the smsbox (the gateway's HTTP side goes away; the bearerbox and the SMS centre
    /// stay) and waits until its port is closed and the bearerbox has seen it go.
    pub fn stop_smsbox(&mut self) {
        if let Some(mut child) = self.smsbox.take() {
            kill(&mut child);
        }
        let deadline = Instant::now() + START_DEADLINE;
        self.wait_for(deadline, "smsbox gone", |k| !k.sendsms_answers() && !k.smsbox_connected());
    }

    /// The sendsms base URL, `http://127.0.0.1:PORT` (the channel adds `/cgi-bin/sendsms`).
    pub fn sendsms_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.sendsms_port)
    }

    /// The sendsms user's name and password.
    pub fn credentials(&self) -> (&'static str, &'static str) {
        (USERNAME, PASSWORD)
    }

    /// Every message the fake SMS centre got so far, in order.
    pub fn received(&self) -> Vec<Received> {
        parse_received(&std::fs::read_to_string(self.dir.path().join("fakesmsc.log")).unwrap_or_default())
    }

    /// Waits until the fake SMS centre got `n` messages (or more) and answers them; panics
    /// with what it got if that takes longer than `deadline`.
    pub fn wait_received(&self, n: usize, deadline: Duration) -> Vec<Received> {
        let until = Instant::now() + deadline;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            if Instant::now() > until {
                panic!("the fake SMSC got {} of {n} messages: {got:?}\n{}", got.len(), self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The tail of every log, for a failure's message.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for name in ["bearerbox.log", "smsbox.log", "fakesmsc.log", "bearerbox.out", "smsbox.out"] {
            let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
            let lines: Vec<&str> =
                text.lines().filter(|l| !l.contains("DEBUG:") || l.contains("Got message")).collect();
            let tail = &lines[lines.len().saturating_sub(15)..];
            all.push_str(&format!("--- {name}\n{}\n", tail.join("\n")));
        }
        all
    }

    /// The temp dir holding the config and logs.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }
}

impl Drop for Kannel {
    fn drop(&mut self) {
        if let Some(mut child) = self.smsbox.take() {
            kill(&mut child);
        }
        kill(&mut self.fakesmsc);
        kill(&mut self.bearerbox);
    }
}

/// A plain HTTP/1.0 GET on loopback: the body on a 200, `None` otherwise.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let ok = head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200");
    ok.then(|| body.to_owned())
}

/// The messages in fakesmsc's log (`… Got message N: <from to type body>`), bodies decoded and
/// the parts of a concatenated message joined (it counts once all its parts are in). A
/// `Got message` line that is not `from to type …` continues the previous text after a newline.
pub fn parse_received(log: &str) -> Vec<Received> {
    let mut got: Vec<Received> = Vec::new();
    let mut parts: Vec<Pending> = Vec::new();
    for line in log.lines() {
        let Some(at) = line.find("Got message ") else { continue };
        let rest = &line[at..];
        let Some(open) = rest.find(": <") else { continue };
        let inner = &rest[open + 3..];
        let inner = inner.strip_suffix('>').unwrap_or(inner);
        let Some(line) = parse_one(inner) else {
            if let Some(last) = got.last_mut() {
                last.text.push('\n');
                last.text.push_str(inner);
            }
            continue;
        };
        let Some((reference, total, seq)) = concat_header(&line.udh) else {
            let text = decode(&line.kind, &line.body);
            got.push(Received { from: line.from, to: line.to, text });
            continue;
        };
        let key = (line.from, line.to, reference);
        let at = match parts.iter().position(|p| p.key == key) {
            Some(i) => i,
            None => {
                parts.push(Pending { key, kind: line.kind, bodies: vec![None; total] });
                parts.len() - 1
            }
        };
        if let Some(slot) = parts[at].bodies.get_mut(seq.wrapping_sub(1)) {
            *slot = Some(line.body);
        }
        if parts[at].bodies.iter().all(Option::is_some) {
            let Pending { key: (from, to, _), kind, bodies } = parts.remove(at);
            let body: Vec<u8> = bodies.into_iter().flatten().flatten().collect();
            got.push(Received { from, to, text: decode(&kind, &body) });
        }
    }
    got
}

/// A concatenated message being put together.
struct Pending {
    /// The sender, the receiver and the reference its parts share.
    key: (String, String, u16),
    /// The first part's type.
    kind: String,
    /// The parts' bytes, by number, as they come.
    bodies: Vec<Option<Vec<u8>>>,
}

/// One line of fakesmsc's: the message's fields, its body's bytes still in `kind`'s coding.
struct Line {
    from: String,
    to: String,
    udh: Vec<u8>,
    kind: String,
    body: Vec<u8>,
}

/// `from to type body`, or `from to udh UDH type body`; `None` if the line is not one (a type
/// fakesmsc does not write).
fn parse_one(inner: &str) -> Option<Line> {
    let mut fields = inner.splitn(3, ' ');
    let (from, to, rest) = (fields.next()?, fields.next()?, fields.next()?);
    let (mut kind, mut body) = rest.split_once(' ').unwrap_or((rest, ""));
    let mut udh = Vec::new();
    if kind == "udh" {
        let (header, rest) = body.split_once(' ')?;
        udh = url_decode(header);
        (kind, body) = rest.split_once(' ').unwrap_or((rest, ""));
    }
    let body = match kind {
        "text" => body.as_bytes().to_vec(),
        "data" | "ucs-2" | "ucs2" => url_decode(body),
        _ => return None,
    };
    Some(Line { from: from.to_owned(), to: to.to_owned(), udh, kind: kind.to_owned(), body })
}

/// A body's text. `data` is what Kannel writes for the parts of a concatenated message whatever
/// their coding: UTF-8 for GSM text, UTF-16BE for UCS-2, told apart by the control characters
/// UTF-16 of text has (its high bytes) and UTF-8 of text has not.
fn decode(kind: &str, body: &[u8]) -> String {
    let utf16 = match kind {
        "ucs-2" | "ucs2" => true,
        "data" => body.len().is_multiple_of(2) && body.iter().any(|b| *b < 0x20 && !b"\n\r\t".contains(b)),
        _ => false,
    };
    if utf16 { utf16be(body) } else { String::from_utf8_lossy(body).into_owned() }
}

/// The concatenation element of a user data header: (reference, parts, this part's number).
fn concat_header(udh: &[u8]) -> Option<(u16, usize, usize)> {
    let mut i = 1;
    while i + 1 < udh.len() {
        let (id, len) = (udh[i], udh[i + 1] as usize);
        let data = udh.get(i + 2..i + 2 + len)?;
        match (id, data) {
            (0x00, [r, total, seq]) => return Some((u16::from(*r), usize::from(*total), usize::from(*seq))),
            (0x08, [r1, r2, total, seq]) => {
                return Some((u16::from_be_bytes([*r1, *r2]), usize::from(*total), usize::from(*seq)));
            }
            _ => i += 2 + len,
        }
    }
    None
}

/// `%XX` and `+` (a space) decoded to bytes.
pub fn url_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn utf16be(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes.chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect();
    String::from_utf16_lossy(&units)
}
