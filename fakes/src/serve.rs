//! What every fake shares: a loopback listener served by a runtime and a
//! thread of its own, stopped when dropped.
//!
//! A thread of its own keeps the fake answering while a test blocks (say,
//! waiting on the reqflo binary, or on its own runtime); dropping the runtime
//! closes every open connection.

use std::net::SocketAddr;
use std::thread::JoinHandle;

use axum::Router;
use tokio::sync::oneshot;

/// A bound listener and the runtime that will serve it.
pub(crate) struct Bound {
    listener: tokio::net::TcpListener,
    runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
}

impl Bound {
    /// Bind `addr` (port 0 picks a free one).
    pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<Bound> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        Ok(Bound {
            listener,
            runtime,
            addr,
        })
    }

    /// The address it is bound to.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve `app` on a thread called `name` until the [`Server`] is dropped.
    pub(crate) fn serve(self, name: &str, app: Router) -> std::io::Result<Server> {
        let Bound {
            listener,
            runtime,
            addr,
        } = self;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = stopped => {}
                    }
                });
            })?;
        Ok(Server {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// A fake being served. Dropping it stops the server.
#[derive(Debug)]
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // The thread drops its runtime, and with it every open connection.
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
