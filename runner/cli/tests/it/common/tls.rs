//! A TLS front on 127.0.0.1 before a plain HTTP server: for tests of what
//! reqflo does over HTTPS (a private CA, client certificates, HTTP/2).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_rustls::rustls;

/// Serve `config` on a port of 127.0.0.1 from `runtime`, passing the bytes
/// of each connection that completes its handshake on to `backend`.
pub fn front(
    runtime: &tokio::runtime::Runtime,
    config: rustls::ServerConfig,
    backend: SocketAddr,
) -> SocketAddr {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    runtime.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A failed handshake (the client distrusts the server, or has
                // no certificate it asks for) just ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    addr
}
