//! The threads that serve connections: each runs a single-threaded tokio
//! runtime and owns the connections the acceptor hands it, in turn. A
//! connection's requests are then answered in the order its runtime sees
//! them, with no task moved between threads (a multi-threaded runtime's
//! work stealing made the slowest of 64 busy connections wait about 1.7
//! times the median; docs/performance.md).

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// What serves a connection handed to a lane, called with its socket once
/// the socket is registered with the lane's runtime (it travels detached
/// from the acceptor's, as a `std` socket beside this).
type Job = Box<dyn FnOnce(TcpStream) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// The connection threads, fed in turn.
pub(crate) struct Lanes {
    senders: Vec<mpsc::UnboundedSender<(std::net::TcpStream, Job)>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    next: AtomicUsize,
}

impl Lanes {
    /// Starts `count` threads, each with its runtime.
    pub(crate) fn start(count: usize) -> io::Result<Lanes> {
        let mut senders = Vec::with_capacity(count);
        let mut threads = Vec::with_capacity(count);
        for index in 0..count {
            // Its log lines go out together, when it has nothing else to
            // do at the latest (`log.rs`).
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .on_thread_park(crate::log::flush)
                .build()?;
            let (sender, mut received) = mpsc::unbounded_channel::<(std::net::TcpStream, Job)>();
            let thread = std::thread::Builder::new()
                .name(format!("connections-{index}"))
                .spawn(move || {
                    crate::log::buffer_this_thread();
                    runtime.block_on(async move {
                        let mut connections = tokio::task::JoinSet::new();
                        loop {
                            tokio::select! {
                                job = received.recv() => {
                                    let Some((tcp, serve)) = job else { break };
                                    if let Ok(tcp) = TcpStream::from_std(tcp) {
                                        connections.spawn(serve(tcp));
                                    }
                                }
                                Some(_) = connections.join_next() => {}
                            }
                        }
                        // Stopping: the connections still open finish.
                        while connections.join_next().await.is_some() {}
                    });
                    crate::log::flush();
                })?;
            senders.push(sender);
            threads.push(thread);
        }
        Ok(Lanes {
            senders,
            threads,
            next: AtomicUsize::new(0),
        })
    }

    /// Hands `tcp` to the next lane, which serves it with `serve`.
    pub(crate) fn serve<F, Fut>(&self, tcp: TcpStream, serve: F)
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Ok(tcp) = tcp.into_std() else { return };
        let lane = self.next.fetch_add(1, Ordering::Relaxed) % self.senders.len();
        let job: Job = Box::new(move |tcp| Box::pin(serve(tcp)));
        let _ = self.senders[lane].send((tcp, job));
    }

    /// Takes no more connections and waits until every lane's connections
    /// have ended.
    pub(crate) async fn stop(self) {
        drop(self.senders);
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}
