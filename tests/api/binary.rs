//! The real `oidc-bff` binary as a child process, for what only a process shows: its log lines
//! as written to stderr, its answer to signals, its exit code. An in-process state holding the
//! same keys lets a test read and rewrite its sealed cookies.

use crate::helpers::*;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running binary; killed when dropped.
pub struct Binary {
    child: std::process::Child,
    log: Arc<Mutex<String>>,
    /// The directory holding its configuration (tests put secret files here).
    pub dir: tempfile::TempDir,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Binary {
    /// Everything written to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends a signal (`TERM`, `HUP`) with the system's `kill`.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name}");
    }

    /// Waits until a log line satisfies `wanted`; panics with the log after `limit`.
    pub async fn wait_for_line(&self, wanted: impl Fn(&str) -> bool, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self.log().lines().find(|l| wanted(l)) {
                return line.to_string();
            }
            assert!(
                start.elapsed() < limit,
                "no such log line within {limit:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `needle` occurs `count` times in the log; panics with the log after `limit`.
    pub async fn wait_for_count(&self, needle: &str, count: usize, limit: Duration) {
        let start = Instant::now();
        while self.log().matches(needle).count() < count {
            assert!(
                start.elapsed() < limit,
                "{needle:?} not {count} times within {limit:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The exit status once the process ended; panics after `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the binary") {
                return status;
            }
            assert!(
                start.elapsed() < limit,
                "the binary did not exit within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A path in the binary's configuration directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// The port in the "listening" line, in either log format (`port=8080` or `"port":8080`).
fn listening_port(line: &str) -> Option<u16> {
    if !line.contains("oidc-bff listening") {
        return None;
    }
    let rest = line
        .split("port=")
        .nth(1)
        .or_else(|| line.split("\"port\":").nth(1))?;
    rest.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

/// Starts the binary at `BFF_LOG=trace` with `extra` TOML before the test configuration.
pub async fn start_binary(extra: &str) -> (Binary, TestApp) {
    start_binary_with(extra, &[("BFF_LOG", "trace")], |_| {}).await
}

/// Starts the binary with `extra` TOML before the test configuration, the environment `env`
/// (nothing else is inherited but `PATH`), and `prepare` run on the configuration directory
/// first (to write secret files; `{dir}` in an environment value names that directory).
/// Returns once `/readyz` answers 200.
pub async fn start_binary_with(
    extra: &str,
    env: &[(&str, &str)],
    prepare: impl FnOnce(&std::path::Path),
) -> (Binary, TestApp) {
    start_binary_toml(&format!("{extra}\n{}", config_toml("")), env, prepare).await
}

/// Starts the binary with the configuration file `toml` (the in-process state reads the same).
pub async fn start_binary_toml(
    toml: &str,
    env: &[(&str, &str)],
    prepare: impl FnOnce(&std::path::Path),
) -> (Binary, TestApp) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dev.toml"), "").unwrap();
    prepare(dir.path());
    let file = dir.path().join("bff.toml");
    std::fs::write(&file, toml).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_oidc-bff"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BFF_CONFIG_DIR", dir.path())
        .env("BFF_CONFIG_FILE", &file)
        .envs(env.iter().map(|(name, value)| {
            let dir = dir.path().display().to_string();
            (*name, value.replace("{dir}", &dir))
        }))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let writer = log.clone();
    std::thread::spawn(move || {
        let mut port_tx = Some(port_tx);
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(port) = listening_port(&line) {
                if let Some(tx) = port_tx.take() {
                    let _ = tx.send(port);
                }
            }
            let mut log = writer.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    let port = port_rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("the BFF started:\n{}", log.lock().unwrap()));
    let config = {
        use figment::providers::{Format, Toml};
        oidc_bff::Config::from_figment("test".into(), figment::Figment::from(Toml::string(toml)))
            .unwrap()
    };
    let state = Arc::new(oidc_bff::state::AppState::new(config).unwrap());
    let app = TestApp {
        address: format!("http://127.0.0.1:{port}"),
        state,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        jar: Jar::default(),
        sso_jar: Jar::default(),
    };
    let binary = Binary { child, log, dir };
    let start = Instant::now();
    loop {
        let ready = app
            .http
            .get(format!("{}/readyz", app.address))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ready {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the BFF never got ready:\n{}",
            binary.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (binary, app)
}
