//! A TCP proxy a test can cut and restore, or freeze: "the database is down" or "the
//! apiserver does not answer" for one process without touching the server every other test
//! uses.
//!
//! `cut` closes every connection and refuses new ones (a peer that is gone: errors at once).
//! `freeze` keeps every connection open and passes nothing, and accepts new ones that never
//! get an answer (a partition: only timeouts tell).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Proxy {
    pub addr: SocketAddr,
    target: SocketAddr,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
    frozen: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let (cut, _) = watch::channel(0);
        let (frozen, _) = watch::channel(false);
        let mut proxy = Proxy { addr, target, up: Arc::new(AtomicBool::new(true)), cut, frozen, task: None };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let (target, up, cut, frozen) = (self.target, self.up.clone(), self.cut.clone(), self.frozen.clone());
        self.task = Some(tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !up.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection closed
                }
                let mut cut_rx = cut.subscribe();
                let mut frozen_rx = frozen.subscribe();
                tokio::spawn(async move {
                    let mut client = client;
                    // Frozen: hold the connection open, answer nothing, until cut or dropped.
                    let frozen_now = *frozen_rx.borrow();
                    if frozen_now {
                        let _ = cut_rx.changed().await;
                        return;
                    }
                    let Ok(mut server) = TcpStream::connect(target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_rx.changed() => {}
                        () = async { drop(frozen_rx.wait_for(|f| *f).await) } => {
                            let _ = cut_rx.changed().await;
                        }
                    }
                });
            }
        }));
    }

    /// Closes every connection and refuses new ones until [`Proxy::restore`].
    pub fn cut(&mut self) {
        self.up.store(false, Ordering::SeqCst);
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.cut.send_modify(|n| *n += 1);
    }

    /// Passes nothing any more, on open connections and new ones, which stay open unanswered.
    pub fn freeze(&mut self) {
        self.frozen.send_replace(true);
    }

    /// Listens again on the same port.
    pub async fn restore(&mut self) {
        let listener = TcpListener::bind(self.addr).await.expect("re-bind proxy port");
        self.up.store(true, Ordering::SeqCst);
        self.serve(listener);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.cut.send_modify(|n| *n += 1);
    }
}
