//! No request can crash or stall the process: head size and count limits, the head timeout,
//! idle keep-alive, a pathological path, and file-descriptor exhaustion; all over raw sockets.

use crate::helpers::*;
use crate::recorder::{raw_exchange, read_until_closed, status_of};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

fn addr(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_string()
}

async fn healthy(app: &mut TestApp) -> bool {
    app.get("/healthz").await.status() == 200
}

#[tokio::test]
async fn a_path_of_17000_nested_escapes_is_refused_and_the_process_serves_on() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    // The request that overflowed the recursive decoder's stack: about 34 KB of path.
    let deep = format!("/api/chat/%{}2e", "25".repeat(17_000));
    let request = format!("GET {deep} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let (response, _) =
        raw_exchange(&addr(&app), request.as_bytes(), Duration::from_secs(10)).await;
    assert!(
        matches!(status_of(&response), 414 | 431),
        "refused by the listener: {response:.100}"
    );
    // Within the head limit, the nesting is refused by the canonical-path check, with the
    // session present, before anything is relayed.
    let shallower = format!("/api/chat/%{}2e", "25".repeat(4_000));
    assert_eq!(app.raw_get(&shallower).await, 400);
    let longest = format!("/api/chat/{}", "a".repeat(9_000));
    assert_eq!(app.raw_get(&longest).await, 414);
    assert!(healthy(&mut app).await, "the process still serves");
}

#[tokio::test]
async fn oversized_heads_and_too_many_headers_get_431() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    let cookie = format!("big={}", "x".repeat(70 * 1024));
    let request = format!("GET /api/session HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\r\n");
    let (response, _) =
        raw_exchange(&addr(&app), request.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status_of(&response), 431, "a 70 KB Cookie header");
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let request = format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    let (response, _) =
        raw_exchange(&addr(&app), request.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status_of(&response), 431, "150 header fields");
    // A large but allowed head (a four-chunk session's worth of cookies) is served.
    let cookie = format!("other={}", "y".repeat(16 * 1024));
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    );
    let (response, _) =
        raw_exchange(&addr(&app), request.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status_of(&response), 200);
    assert!(healthy(&mut app).await);
}

#[tokio::test]
async fn a_head_that_never_completes_is_closed_after_the_header_timeout() {
    let _sso = shared_sso().await;
    let app = spawn_app_with(config_with("[server]\nheader_timeout = \"1s\"")).await;
    let mut stream = tokio::net::TcpStream::connect(addr(&app)).await.unwrap();
    // Slowloris: the head trickles in and never ends.
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
            break;
        }
    }
    let (received, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(closed, "the server closed the connection");
    assert!(
        !received.contains("200 OK"),
        "no answer to an incomplete head: {received}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let _sso = shared_sso().await;
    let app = spawn_app_with(config_with("[server]\nheader_timeout = \"1s\"")).await;
    let mut stream = tokio::net::TcpStream::connect(addr(&app)).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (received, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
    assert!(
        closed,
        "the idle keep-alive connection was closed by the server"
    );
}

#[tokio::test]
async fn trace_and_connect_are_405_everywhere() {
    let _sso = shared_sso().await;
    let mut app = spawn_app().await;
    app.login_as("alice").await;
    for (method, target) in [
        ("TRACE", "/api/chat/whoami"),
        ("TRACE", "/api/session"),
        ("TRACE", "/"),
        ("CONNECT", "/api/chat/whoami"),
        ("CONNECT", "127.0.0.1:1"),
    ] {
        let request = format!(
            "{method} {target} HTTP/1.1\r\nHost: x\r\nCookie: {}\r\nConnection: close\r\n\r\n",
            app.jar.header()
        );
        let (response, _) =
            raw_exchange(&addr(&app), request.as_bytes(), Duration::from_secs(10)).await;
        let status = status_of(&response);
        assert!(
            status == 405 || (method == "CONNECT" && status == 400),
            "{method} {target}: {response:.200}"
        );
        assert!(
            !response.contains("\"authorization\""),
            "nothing was relayed"
        );
    }
}

/// CPU seconds (user + system) the process `pid` has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the name and state.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    let hz = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|t| t.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    ticks / hz
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_file_descriptors_backs_off_and_recovers() {
    let _sso = shared_sso().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dev.toml"), "").unwrap();
    let config = dir.path().join("bff.toml");
    std::fs::write(
        &config,
        config_toml("").replace("[server]", "[server]\nheader_timeout = \"60s\""),
    )
    .unwrap();
    // The real binary under a small descriptor limit, so that accept() hits EMFILE.
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 48 && exec \"$0\"")
        .arg(env!("CARGO_BIN_EXE_oidc-bff"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BFF_CONFIG_DIR", dir.path())
        .env("BFF_CONFIG_FILE", &config)
        .env("BFF_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let log_writer = log.clone();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut sent = false;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if !sent {
                if let Some(port) = line.split("port=").nth(1) {
                    let port: u16 = port.split_whitespace().next().unwrap().parse().unwrap();
                    let _ = port_tx.send(port);
                    sent = true;
                }
            }
            log_writer.lock().unwrap().push_str(&line);
            log_writer.lock().unwrap().push('\n');
        }
    });
    let port = port_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the BFF started");
    let address = format!("127.0.0.1:{port}");
    // Hold far more connections open than the BFF has descriptors for.
    let mut held = Vec::new();
    for _ in 0..120 {
        if let Ok(stream) = tokio::net::TcpStream::connect(&address).await {
            held.push(stream);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = cpu_seconds(child.id());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let used = cpu_seconds(child.id()) - before;
    assert!(
        log.lock()
            .unwrap()
            .contains("cannot accept connections; backing off"),
        "accept() ran out of descriptors: {}",
        log.lock().unwrap()
    );
    // A spinning accept loop burns a whole core: about 3 s of CPU in 3 s.
    assert!(used < 0.5, "the accept loop used {used:.2} s of CPU in 3 s");
    drop(held);
    let client = reqwest::Client::new();
    let mut recovered = false;
    for _ in 0..40 {
        if let Ok(response) = client.get(format!("http://{address}/healthz")).send().await {
            if response.status() == 200 {
                recovered = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(recovered, "the BFF serves again once descriptors are free");
}
