//! A TCP proxy in front of PostgreSQL that a test can cut and restore: "the database is down"
//! for one operator without stopping the server every other test uses.

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
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let (cut, _) = watch::channel(0);
        let mut proxy = Proxy { addr, target, up: Arc::new(AtomicBool::new(true)), cut, task: None };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let (target, up, cut) = (self.target, self.up.clone(), self.cut.clone());
        self.task = Some(tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !up.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection closed
                }
                let mut cut_rx = cut.subscribe();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else { return };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_rx.changed() => {}
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
