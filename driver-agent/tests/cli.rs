//! Bad command lines: a non-zero exit and one line on stderr, before anything is written.

use std::process::Command;

#[test]
fn bad_arguments_get_one_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let buffer = dir.path().join("sub").join("buffer.db");
    let buffer = buffer.to_str().unwrap();
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    let not_pem = not_pem.to_str().unwrap();
    for (args, says) in [
        (vec!["--device", "d1", "--broker", "localhost"], "host:port"),
        (vec!["--device", "d1", "--route", "52.1,4.9"], "at least two points"),
        (vec!["--device", "d1", "--route", "52.1,4.9;95,4"], "out of range"),
        (vec!["--device", "d1", "--battery", "140"], "percentage"),
        (vec!["--device", "a/b"], "free of"),
        (vec!["--device", "d1", "--speed-kmh", "0"], "positive"),
        (vec!["--device", "d1", "--source", "nmea"], "--nmea"),
        (vec!["--device", "d1", "--source", "teleport"], "teleport"),
        (vec!["--no-such-flag"], "no-such-flag"),
        (vec!["--device", "d1", "--tls-ca", "/no/such/ca.pem"], "/no/such/ca.pem"),
        (vec!["--device", "d1", "--tls-ca", not_pem], "no certificate in it"),
        (vec!["--device", "d1", "--tls-cert", not_pem], "--tls-key"),
        (vec!["--device", "d1", "--tls-cert", not_pem, "--tls-key", not_pem], "no certificate in it"),
    ] {
        let out =
            Command::new(env!("CARGO_BIN_EXE_patty-driver")).args(&args).args(["--buffer", buffer]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert!(!std::path::Path::new(buffer).exists(), "nothing written");
}
