//! The link between an outlet's edge and the cloud: a TCP relay (the edge's `cloud.url` points at
//! it) that a test, or the demo's `--cut-outlet`, cuts. While cut it drops the connections it
//! carries and closes new ones at once, which is what a dead mobile link looks like to both ends;
//! the edge keeps selling and catches up when the relay carries again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// A relay to the cloud that can be cut.
#[derive(Debug)]
pub struct Relay {
    /// Where it listens (what the edge's `cloud.url` names).
    pub addr: SocketAddr,
    cut: AtomicBool,
    /// Bumped on every cut: open connections end.
    epoch: watch::Sender<u64>,
}

impl Relay {
    /// Starts relaying from a free loopback port to `target` until `stop` turns true; the task
    /// ends once every connection it carried has ended.
    pub async fn start(
        target: SocketAddr,
        stop: watch::Receiver<bool>,
    ) -> std::io::Result<(Arc<Self>, JoinHandle<()>)> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let relay =
            Arc::new(Self { addr: listener.local_addr()?, cut: AtomicBool::new(false), epoch: watch::channel(0).0 });
        let task = tokio::spawn(relay.clone().serve(listener, target, stop));
        Ok((relay, task))
    }

    async fn serve(self: Arc<Self>, listener: TcpListener, target: SocketAddr, mut stop: watch::Receiver<bool>) {
        let mut carried = JoinSet::new();
        loop {
            while carried.try_join_next().is_some() {}
            let inbound = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((inbound, _)) => inbound,
                    Err(e) => {
                        tracing::warn!(error = %e, "the relay could not accept a connection");
                        continue;
                    }
                },
                _ = stop.changed() => break,
            };
            if self.is_cut() {
                drop(inbound); // closed at once
                continue;
            }
            let (mut epoch, mut stop) = (self.epoch.subscribe(), stop.clone());
            carried.spawn(async move {
                let mut inbound = inbound;
                let Ok(mut outbound) = TcpStream::connect(target).await else { return };
                // A cut is looked at before any byte is carried further.
                tokio::select! {
                    biased;
                    _ = epoch.changed() => {},
                    _ = stop.changed() => {},
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {},
                }
            });
        }
        carried.shutdown().await;
    }

    /// Cuts the link (dropping what it carries) or restores it.
    pub fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
        if cut {
            self.epoch.send_modify(|e| *e += 1);
        }
    }

    /// Whether it is cut.
    pub fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An echo server, the relay in front of it, a cut and a return.
    #[tokio::test]
    async fn a_cut_drops_and_refuses_connections_until_restored() {
        let echo = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let target = echo.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = echo.accept().await.unwrap();
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        let (stop_tx, stop) = watch::channel(false);
        let (relay, task) = Relay::start(target, stop).await.unwrap();
        // The stream back when "patty" came back through the relay.
        let round_trip = |mut s: TcpStream| async move {
            s.write_all(b"patty").await.ok()?;
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await.ok()?;
            (buf == *b"patty").then_some(s)
        };
        let open = round_trip(TcpStream::connect(relay.addr).await.unwrap()).await.expect("relayed");
        relay.set_cut(true);
        assert!(round_trip(open).await.is_none(), "an open connection is dropped by the cut");
        let fresh = TcpStream::connect(relay.addr).await.unwrap();
        assert!(round_trip(fresh).await.is_none(), "a new connection is closed while cut");
        relay.set_cut(false);
        assert!(round_trip(TcpStream::connect(relay.addr).await.unwrap()).await.is_some());
        stop_tx.send_replace(true);
        task.await.unwrap();
    }
}
