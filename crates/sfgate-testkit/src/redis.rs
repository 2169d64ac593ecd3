//! A real `redis-server` (Debian package) for the shared-limit tests: started on 127.0.0.1 with a
//! random port, stopped by its PID, restartable on the same port. Without the binary the tests
//! say so loudly and skip, unless `SFGATE_TEST_REQUIRE_SERVERS=1`, which makes them fail.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running (or stopped) Redis server.
#[derive(Debug)]
pub struct Redis {
    /// Its port on 127.0.0.1 (kept across restarts).
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    /// Starts a server, or returns `None` after a loud notice when `redis-server` is missing.
    pub fn start() -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            let message = "redis-server (Debian package redis-server) is not installed: the shared-limit tests cannot run";
            if std::env::var("SFGATE_TEST_REQUIRE_SERVERS").is_ok_and(|value| value == "1") {
                panic!("{message} and SFGATE_TEST_REQUIRE_SERVERS=1");
            }
            eprintln!(
                "\n!!! SKIPPED: {message}. Install it with `apt-get install redis-server`. !!!\n"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self { port, child: None };
        redis.restart();
        Some(redis)
    }

    /// The URL sfgate connects to.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on its port and waits until it accepts connections.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal (e.g. `STOP`, `CONT`) to the server by its PID.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("kill");
    }

    /// Stops the server by its PID.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
