//! The driver's console: commands from the cloud shown as one line each on stdout, answers typed
//! on stdin.
//!
//! Answers: `accept JOB`, `decline JOB`, `picked JOB` (the food is on board), `code JOB DIGITS`
//! (the customer's code at the door). With `--source stdin` the same input also carries positions:
//! a line starting with `{` is a position, anything else an answer.

use crate::Position;
use patty_protocol::delivery::{Command, Reply};
use tokio::io::AsyncBufRead;
use tokio::sync::mpsc::Sender;

/// One line for the driver about `cmd`.
pub fn describe(cmd: &Command) -> String {
    match cmd {
        Command::Offer { job, order_number, pickup, dropoff, deadline_s } => format!(
            "offer job {job}: order {order_number} from {} ({:.5},{:.5}) to {} ({:.5},{:.5}); \
             answer `accept {job}` or `decline {job}` within {}s",
            pickup.name,
            pickup.position.lat,
            pickup.position.lon,
            dropoff.name,
            dropoff.position.lat,
            dropoff.position.lon,
            deadline_s.saturating_sub(crate::source::now_s()),
        ),
        Command::Assigned { job } => format!("job {job} is yours; type `picked {job}` once you have the food"),
        Command::Withdrawn { job } => format!("job {job} is no longer on offer"),
        Command::Cancel { job, reason } => format!("job {job} is cancelled: {reason}"),
        Command::Handover { job, attempts_left } => {
            format!("job {job}: at the door, ask for the code and type `code {job} DIGITS` ({attempts_left} tries)")
        }
        Command::CodeResult { job, ok: true, .. } => format!("job {job} delivered"),
        Command::CodeResult { job, ok: false, attempts_left } => {
            format!("job {job}: wrong code, {attempts_left} tries left")
        }
    }
}

/// Reads one answer.
pub fn parse_answer(line: &str) -> Result<Reply, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let job = |w: Option<&&str>| -> Result<u32, String> {
        w.ok_or("which job?")?.parse().map_err(|_| format!("{:?} is not a job number", w.unwrap_or(&"")))
    };
    match words.first().copied() {
        Some("accept") if words.len() == 2 => Ok(Reply::Accept { job: job(words.get(1))? }),
        Some("decline") if words.len() == 2 => Ok(Reply::Decline { job: job(words.get(1))? }),
        Some("picked") if words.len() == 2 => Ok(Reply::PickedUp { job: job(words.get(1))? }),
        Some("code") if words.len() == 3 => {
            let code = words[2];
            if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{code:?} is not a code (digits)"));
            }
            Ok(Reply::Code { job: job(words.get(1))?, code: code.to_owned() })
        }
        _ => {
            Err(format!("{:?}: answers are `accept JOB`, `decline JOB`, `picked JOB`, `code JOB DIGITS`", line.trim()))
        }
    }
}

/// A line of stdin.
enum Line {
    Position(Position),
    Answer(Reply),
}

/// Reads stdin until it ends: answers to `answers`, and, when `positions` is given, JSON
/// positions to it. A line that is neither is reported on stderr (the first ten).
pub async fn read(input: impl AsyncBufRead + Unpin, positions: Option<Sender<Position>>, answers: Sender<Reply>) {
    let takes_positions = positions.is_some();
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let reading = crate::source::lines(input, tx, |line, _| {
        let line = line.trim();
        if line.is_empty() {
            Ok(None)
        } else if !line.starts_with('{') {
            parse_answer(line).map(|a| Some(Line::Answer(a)))
        } else if takes_positions {
            crate::source::parse_json_line(line).map(|p| Some(Line::Position(p)))
        } else {
            Err("positions come on stdin only with --source stdin".to_owned())
        }
    });
    let routing = async {
        while let Some(line) = rx.recv().await {
            match (line, &positions) {
                (Line::Position(p), Some(tx)) => {
                    if tx.send(p).await.is_err() {
                        return;
                    }
                }
                (Line::Position(_), None) => {}
                (Line::Answer(a), _) => {
                    let _ = answers.send(a).await;
                }
            }
        }
    };
    tokio::join!(reading, routing);
}

#[cfg(test)]
mod tests {
    use super::*;
    use patty_protocol::delivery::Place;
    use patty_protocol::outlet::LatLon;

    #[test]
    fn answers_parse_and_mistakes_are_explained() {
        assert_eq!(parse_answer("accept 12"), Ok(Reply::Accept { job: 12 }));
        assert_eq!(parse_answer("  code 12 0042 "), Ok(Reply::Code { job: 12, code: "0042".into() }));
        assert_eq!(parse_answer("picked 3"), Ok(Reply::PickedUp { job: 3 }));
        assert!(parse_answer("accept twelve").unwrap_err().contains("not a job number"));
        assert!(parse_answer("code 12 12a4").unwrap_err().contains("not a code"));
        assert!(parse_answer("fly 1").unwrap_err().contains("answers are"));
    }

    #[test]
    fn commands_read_as_one_line_each() {
        let place = |n: &str| Place { name: n.into(), position: LatLon { lat: 52.37, lon: 4.89 } };
        let offer = Command::Offer {
            job: 4,
            order_number: 17,
            pickup: place("Dam"),
            dropoff: place("Main St 1"),
            deadline_s: 0,
        };
        let line = describe(&offer);
        assert!(line.contains("offer job 4") && line.contains("accept 4") && !line.contains('\n'), "{line}");
        assert!(describe(&Command::Handover { job: 4, attempts_left: 5 }).contains("code 4 DIGITS"));
    }
}
