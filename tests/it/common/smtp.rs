//! A real SMTP server (mailin-embedded) on a free local port, keeping what it receives,
//! for tests of the emails Tandem sends.

use mailin_embedded::{response, Handler, Response, Server, SslConfig};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One received message: its recipients and its raw text (headers and body).
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub text: String,
}

impl Mail {
    /// The text with quoted-printable soft line breaks joined (lettre wraps long lines),
    /// enough to find ASCII text such as a link in it.
    pub fn unwrapped(&self) -> String {
        self.text
            .replace("=\r\n", "")
            .replace("=\n", "")
            .replace("=3D", "=")
    }
}

#[derive(Clone, Default)]
struct Collector {
    received: Arc<Mutex<Vec<Mail>>>,
    current: Option<Mail>,
}

impl Handler for Collector {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Some(Mail {
            to: to.to_vec(),
            text: String::new(),
        });
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(m) = self.current.as_mut() {
            m.text.push_str(&String::from_utf8_lossy(buf));
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some(m) = self.current.take() {
            self.received.lock().unwrap().push(m);
        }
        response::OK
    }
}

/// The server runs on its own thread for the rest of the test process.
pub struct Inbox {
    port: u16,
    received: Arc<Mutex<Vec<Mail>>>,
}

impl Inbox {
    pub fn start() -> Inbox {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().unwrap().port();
        let collector = Collector::default();
        let received = collector.received.clone();
        let mut server = Server::new(collector);
        server
            .with_name("inbox.test")
            .with_ssl(SslConfig::None)
            .expect("plain SMTP")
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            if let Err(e) = server.serve() {
                eprintln!("the test SMTP server stopped: {e}");
            }
        });
        Inbox { port, received }
    }

    /// `TANDEM_SMTP_URL` for this server (plain SMTP, no TLS).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Waits (up to 10 s) until `n` messages arrived and answers them.
    pub fn wait_for(&self, n: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= n || Instant::now() > deadline {
                assert_eq!(got.len(), n, "emails received: {got:#?}");
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
