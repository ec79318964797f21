//! Shipping an attempt's log file to the server by byte offset.
//!
//! The local file is the disk buffer: the shipper remembers only `acked`, how many bytes the
//! server said it holds, and sends what the file has past it (`?offset=acked`, at most
//! [`MAX_CHUNK`] per request). The server's `received` is always the next offset, whether it
//! is more or less than what was sent, so a lost answer, a refused request or a server that
//! lost bytes never loses or duplicates any: the worst case is sending a range twice, which
//! the server skips.

use std::io::SeekFrom;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::watch;

use crate::backoff::Backoff;
use crate::client::{CallError, Server};

/// The most bytes per request (the server takes bodies of at most 1 MiB).
pub(crate) const MAX_CHUNK: u64 = 512 * 1024;
/// How often a running attempt's new output is shipped.
pub(crate) const SHIP_INTERVAL: Duration = Duration::from_millis(200);

/// Ships one lease's log.
#[derive(Debug)]
pub(crate) struct Shipper {
    server: Arc<Server>,
    lease: String,
    path: PathBuf,
    /// The server's last `received`.
    acked: u64,
}

impl Shipper {
    pub(crate) fn new(server: Arc<Server>, lease: String, path: PathBuf) -> Shipper {
        Shipper {
            server,
            lease,
            path,
            acked: 0,
        }
    }

    /// How many bytes the server said it holds.
    pub(crate) fn acked(&self) -> u64 {
        self.acked
    }

    /// The log file.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Sends what the file holds past `acked` until the server holds all of it.
    pub(crate) async fn ship_available(&mut self) -> Result<(), CallError> {
        let mut stalled = 0;
        loop {
            let size = file_size(&self.path).await;
            if self.acked >= size {
                return Ok(());
            }
            let length = (size - self.acked).min(MAX_CHUNK);
            let chunk = read_range(&self.path, self.acked, length)
                .await
                .map_err(|error| CallError::Decode(format!("cannot read the log: {error}")))?;
            let before = self.acked;
            let ack = self.server.append_log(&self.lease, before, chunk).await?;
            self.acked = ack.received;
            if ack.received <= before {
                // the server holds less than we sent from: the next round resends from there;
                // twice without progress is a server that does not take the bytes
                stalled += 1;
                if stalled >= 2 {
                    return Err(CallError::Network(format!(
                        "the server does not take the log past byte {}",
                        ack.received
                    )));
                }
            } else {
                stalled = 0;
            }
        }
    }

    /// Asks the server how much it holds (an empty append at offset 0), after it answered
    /// `log_incomplete` to a completion.
    pub(crate) async fn resync(&mut self) -> Result<(), CallError> {
        let ack = self.server.append_log(&self.lease, 0, Vec::new()).await?;
        self.acked = ack.received;
        Ok(())
    }

    /// Ships every [`SHIP_INTERVAL`] (backing off while the server is unreachable) until
    /// `stop` turns true. Returns whether the server answered `lease_lost`.
    pub(crate) async fn ship_while_running(&mut self, mut stop: watch::Receiver<bool>) -> bool {
        let mut backoff = Backoff::new(SHIP_INTERVAL, Duration::from_secs(5));
        loop {
            let delay = match self.ship_available().await {
                Ok(()) => {
                    backoff.reset();
                    SHIP_INTERVAL
                }
                Err(error) if error.is_lease_lost() => return true,
                Err(error) => {
                    let delay = backoff.next_delay();
                    tracing::debug!(%error, retry_in_ms = delay.as_millis() as u64, "log shipping failed");
                    delay
                }
            };
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = stop.wait_for(|stop| *stop) => return false,
            }
        }
    }
}

/// The file's size; 0 while it does not exist.
pub(crate) async fn file_size(path: &std::path::Path) -> u64 {
    tokio::fs::metadata(path)
        .await
        .map(|metadata| metadata.len())
        .unwrap_or(0)
}

async fn read_range(path: &std::path::Path, offset: u64, length: u64) -> std::io::Result<Vec<u8>> {
    let mut file = tokio::fs::File::open(path).await?;
    file.seek(SeekFrom::Start(offset)).await?;
    let mut chunk = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    file.take(length).read_to_end(&mut chunk).await?;
    Ok(chunk)
}
