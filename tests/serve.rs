//! End-to-end tests of `inference-lab serve` over real HTTP: the page and its files, the
//! form's config and its errors, a run's events and its JSON (byte for byte the CLI's), Stop,
//! the queue's bounds, the Sweeps tab, the safety checks, and Ctrl-C.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::cli::{describe, run, TempDir, BIN};
use common::sweep::Scratch;
use serde_json::{json, Value};

/// A server on a free port, killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("serving on http://")
            .unwrap_or_else(|| panic!("first line: {line:?}"))
            .to_string();
        Server { child, addr }
    }

    /// One request with `Connection: close`; the status and the body.
    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
        self.raw(method, path, body.map(Value::to_string).as_deref(), &[])
    }

    fn raw(&self, method: &str, path: &str, body: Option<&str>, headers: &[&str]) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let body = body.unwrap_or("");
        let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
        if !headers.iter().any(|h| h.starts_with("Host:")) {
            head += &format!("Host: {}\r\n", self.addr);
        }
        for h in headers {
            head += &format!("{h}\r\n");
        }
        head += &format!("Content-Length: {}\r\n\r\n", body.len());
        stream.write_all(head.as_bytes()).unwrap();
        let _ = stream.write_all(body.as_bytes());
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let response = String::from_utf8_lossy(&response).into_owned();
        let status = response[9..12].parse().unwrap();
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let (status, text) = self.request("POST", path, Some(body));
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A run's events, up to and including its last one; `on_event` may act on each.
    fn events(&self, id: &str, mut on_event: impl FnMut(&str, &Value)) -> Vec<(String, Value)> {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        let head = format!(
            "GET /api/runs/{id}/events HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        stream.write_all(head.as_bytes()).unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("HTTP/1.1 200"), "{line}");
        let mut events = Vec::new();
        let mut name = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap() == 0 {
                panic!("the stream ended before the run's last event: {events:?}");
            }
            if let Some(n) = line.strip_prefix("event: ") {
                name = n.trim().to_string();
            } else if let Some(data) = line.strip_prefix("data: ") {
                let data: Value = serde_json::from_str(data).unwrap();
                on_event(&name, &data);
                events.push((name.clone(), data));
                if ["result", "error", "cancelled"].contains(&name.as_str()) {
                    // The response ends there: its last chunk, then the connection closes.
                    let mut rest = String::new();
                    reader.read_to_string(&mut rest).unwrap();
                    assert!(rest.ends_with("0\r\n\r\n"), "{rest:?}");
                    return events;
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn closed_loop(users: u32, requests: u32) -> Value {
    json!({
        "base": { "config": "configs/chat-llama3-8b-h100.toml" },
        "edits": [
            ["workload.arrival_pattern", "closed_loop"],
            ["workload.num_concurrent_users", users.to_string()],
            ["workload.num_requests", requests.to_string()],
        ],
    })
}

fn submit(server: &Server, page: &str, form: &Value, speed: Value) -> (u16, Value) {
    let mut body = form.clone();
    body["page"] = json!(page);
    body["speed"] = speed;
    server.post("/api/runs", &body)
}

#[test]
fn the_page_its_files_and_the_catalog_are_served() {
    let server = Server::start(&[]);
    let (status, page) = server.request("GET", "/", None);
    assert_eq!(status, 200);
    assert!(page.contains("/assets/app.js"), "{page}");
    for asset in [
        "app.js",
        "app.css",
        "vendor/uPlot.iife.min.js",
        "vendor/uPlot.min.css",
    ] {
        let (status, body) = server.request("GET", &format!("/assets/{asset}"), None);
        assert_eq!(status, 200, "{asset}");
        assert!(body.len() > 100, "{asset}");
    }
    for missing in [
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/Cargo.toml",
        "/etc/passwd",
    ] {
        assert_eq!(server.request("GET", missing, None).0, 404, "{missing}");
    }
    let (status, catalog) = server.request("GET", "/api/catalog", None);
    assert_eq!(status, 200);
    let catalog: Value = serde_json::from_str(&catalog).unwrap();
    assert!(catalog["gpus"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["key"] == "h100-sxm"));
    assert!(catalog["models"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["key"] == "llama-3.1-8b"));
    assert_eq!(catalog["policies"].as_array().unwrap().len(), 8);
    let patterns = catalog["arrival_patterns"].as_array().unwrap();
    assert!(patterns
        .iter()
        .any(|p| p["label"] == "Closed Loop (N concurrent users)" && p["value"] == "closed_loop"));
    assert!(
        !patterns.iter().any(|p| p["value"] == "trace"),
        "a trace needs a file"
    );
    let default = catalog["default_config"].as_str().unwrap();
    assert!(catalog["configs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == default));
    assert_eq!(catalog["sweeps"], false);
}

#[test]
fn a_run_streams_progress_and_ends_with_the_clis_json() {
    let server = Server::start(&[]);
    let form = closed_loop(8, 40);
    let (status, checked) = server.post("/api/config", &form);
    assert_eq!(status, 200);
    assert_eq!(checked["ok"], true, "{checked}");
    assert_eq!(checked["config"]["workload"]["num_concurrent_users"], 8);

    let (status, queued) = submit(&server, "page-1", &form, Value::Null);
    assert_eq!(status, 202, "{queued}");
    let events = server.events(queued["id"].as_str().unwrap(), |_, _| {});
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"queued"));
    assert!(names.contains(&"started"), "{names:?}");
    assert!(names.contains(&"progress"), "{names:?}");
    let (last, result) = events.last().unwrap();
    assert_eq!(last, "result", "{result}");

    // The TOML the page shows, run by the CLI, gives the same JSON, byte for byte.
    let dir = TempDir::new("serve-json");
    let toml = dir.join("web.toml");
    std::fs::write(&toml, result["toml"].as_str().unwrap()).unwrap();
    assert_eq!(result["toml"], checked["toml"]);
    let cli_json = dir.join("cli.json");
    let out = run(&[
        "-c",
        toml.to_str().unwrap(),
        "-q",
        "-o",
        cli_json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        std::fs::read_to_string(&cli_json).unwrap(),
        result["json_text"].as_str().unwrap()
    );
    let doc: Value = serde_json::from_str(result["json_text"].as_str().unwrap()).unwrap();
    assert_eq!(doc, result["json"]);
    assert_eq!(doc["requests"]["completed"], 40);

    // The histograms count every completed request; the series adds up to the run.
    for kind in [
        "ttft_ms",
        "e2e_ms",
        "tpot_ms",
        "prompt_tokens",
        "output_tokens",
    ] {
        let h = &result["histograms"][kind];
        let counts: u64 = h["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .sum();
        assert_eq!(counts, 40, "{kind}");
        assert_eq!(h["of"], 40);
        assert_eq!(
            h["edges"].as_array().unwrap().len(),
            h["counts"].as_array().unwrap().len() + 1
        );
    }
    let rows = result["timeseries"]["rows"].as_array().unwrap();
    let completions: f64 = rows
        .iter()
        .map(|r| r["completions"].as_f64().unwrap())
        .sum();
    assert_eq!(completions, 40.0);
    let output: f64 = rows
        .iter()
        .map(|r| r["output_tokens"].as_f64().unwrap())
        .sum();
    assert_eq!(output, doc["simulation"]["output_tokens"].as_f64().unwrap());
}

#[test]
fn stop_ends_a_long_run_promptly_and_the_page_may_run_again() {
    let server = Server::start(&[]);
    // 200,000 requests at real-time speed would take hours.
    let (status, queued) = submit(&server, "page-2", &closed_loop(64, 200_000), json!(1.0));
    assert_eq!(status, 202, "{queued}");
    let id = queued["id"].as_str().unwrap().to_string();
    let (status, busy) = submit(&server, "page-2", &closed_loop(8, 40), Value::Null);
    assert_eq!(status, 409, "one run per page: {busy}");
    let mut asked: Option<Instant> = None;
    let events = server.events(&id, |name, _| {
        if name == "progress" && asked.is_none() {
            let (status, _) = server.post(&format!("/api/runs/{id}/stop"), &json!({}));
            assert_eq!(status, 200);
            asked = Some(Instant::now());
        }
    });
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "cancelled", "{data}");
    let took = asked.expect("a progress event came").elapsed();
    assert!(took < Duration::from_secs(5), "stopped after {took:?}");
    let (status, _) = submit(&server, "page-2", &closed_loop(8, 40), Value::Null);
    assert_eq!(status, 202);
    assert_eq!(server.post("/api/runs/no-such/stop", &json!({})).0, 404);
}

#[test]
fn bad_configs_name_their_field_and_are_not_run() {
    let server = Server::start(&[]);
    let form = closed_loop(0, 40);
    let (_, checked) = server.post("/api/config", &form);
    assert_eq!(checked["ok"], false);
    assert_eq!(checked["error"]["key"], "workload.num_concurrent_users");
    let (status, refused) = submit(&server, "page-3", &form, Value::Null);
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["key"], "workload.num_concurrent_users");

    let upload = json!({ "base": { "toml": "[workload]\ndataset_path = \"/etc/passwd\"\n" },
                         "edits": [] });
    let (_, checked) = server.post("/api/config", &upload);
    assert_eq!(
        checked["error"]["key"], "workload.dataset_path",
        "{checked}"
    );
    let (status, _) = submit(&server, "page-3", &upload, Value::Null);
    assert_eq!(status, 400);

    let (status, _) = server.raw("POST", "/api/config", Some("{not json"), &[]);
    assert_eq!(status, 400);
    let big = format!("{{\"base\": {{\"toml\": \"{}\"}}}}", "#".repeat(2 << 20));
    assert_eq!(server.raw("POST", "/api/config", Some(&big), &[]).0, 413);
}

#[test]
fn the_queue_is_bounded_across_pages() {
    let server = Server::start(&["--jobs", "1", "--queue", "1"]);
    let long = closed_loop(64, 200_000);
    let (a, first) = submit(&server, "page-a", &long, json!(1.0));
    let (b, second) = submit(&server, "page-b", &long, json!(1.0));
    let (c, third) = submit(&server, "page-c", &long, json!(1.0));
    assert_eq!((a, b), (202, 202), "{first} {second}");
    assert_eq!(c, 503, "{third}");
    assert!(third["error"]["message"].as_str().unwrap().contains("busy"));
    // A waiting run stops at once, never having started.
    let id = second["id"].as_str().unwrap();
    let stop = server.post(&format!("/api/runs/{id}/stop"), &json!({}));
    assert_eq!(stop.0, 200);
    let events = server.events(id, |_, _| {});
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names[..names.len() - 1].iter().all(|n| *n == "queued"),
        "{names:?}"
    );
    // Its place is free again.
    assert_eq!(submit(&server, "page-c", &long, json!(1.0)).0, 202);
    assert_eq!(events.last().unwrap().0, "cancelled");
}

#[test]
fn requests_from_other_sites_are_refused() {
    let server = Server::start(&[]);
    let (status, _) = server.raw("GET", "/api/catalog", None, &["Host: evil.example:80"]);
    assert_eq!(status, 403, "DNS rebinding");
    let body = closed_loop(8, 40).to_string();
    let (status, _) = server.raw(
        "POST",
        "/api/config",
        Some(&body),
        &["Origin: http://evil.example"],
    );
    assert_eq!(status, 403, "a cross-site POST");
    let origin = format!("Origin: http://{}", server.addr);
    assert_eq!(
        server.raw("POST", "/api/config", Some(&body), &[&origin]).0,
        200
    );
    let localhost = format!(
        "Host: localhost:{}",
        server.addr.rsplit(':').next().unwrap()
    );
    assert_eq!(server.raw("GET", "/", None, &[&localhost]).0, 200);
}

#[test]
fn the_sweeps_tab_lists_results_folders_and_shows_their_report() {
    let s = Scratch::new("serve", "sweeps");
    s.spec(
        "grid",
        "seeds = 1\n\n[axes]\nscheduler.policy = [\"fcfs\", \"sof\"]\n",
    );
    let out = s.run(&["sweep", "grid.toml", "-q"]);
    assert!(out.status.success(), "{}", describe(&out));
    std::fs::create_dir_all(s.path("results/not-a-sweep")).unwrap();
    let results = s.path("results");
    let server = Server::start(&["--results", results.to_str().unwrap()]);
    let (_, list) = server.request("GET", "/api/sweeps", None);
    let list: Value = serde_json::from_str(&list).unwrap();
    let names: Vec<&str> = list["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["grid"]);
    let (status, html) = server.request("GET", "/sweeps/grid/report.html", None);
    assert_eq!(status, 200);
    assert!(html.contains("<svg"), "{html}");
    for other in [
        "/sweeps/not-a-sweep/report.html",
        "/sweeps/..%2F..%2Fetc/report.html",
    ] {
        assert_eq!(server.request("GET", other, None).0, 404, "{other}");
    }
    let out = run(&["serve", "--results", "/no/such/folder"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
}

#[test]
fn ctrl_c_stops_the_server_cleanly_even_mid_run() {
    let mut server = Server::start(&[]);
    let (status, _) = submit(&server, "page-4", &closed_loop(64, 200_000), json!(1.0));
    assert_eq!(status, 202);
    // SAFETY: sending a signal to our own child.
    unsafe {
        libc::kill(server.child.id() as i32, libc::SIGINT);
    }
    let started = Instant::now();
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still running after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut err = String::new();
    server
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("stopped"), "{err}");
}

#[test]
fn a_port_in_use_is_one_line_and_exit_1() {
    let server = Server::start(&[]);
    let port = server.addr.rsplit(':').next().unwrap();
    let out = run(&["serve", "--port", port]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot listen on"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn a_series_longer_than_the_page_is_sent_is_dropped_not_the_run() {
    let server = Server::start(&[]);
    let mut body = closed_loop(8, 40);
    body["page"] = json!("page-5");
    // About 8 simulated seconds in intervals of 0.1 ms: 80,000 intervals.
    body["interval"] = json!(0.0001);
    let (status, queued) = server.post("/api/runs", &body);
    assert_eq!(status, 202, "{queued}");
    let events = server.events(queued["id"].as_str().unwrap(), |_, _| {});
    let (last, result) = events.last().unwrap();
    assert_eq!(last, "result", "{result}");
    assert_eq!(result["timeseries"]["too_many"], 20_000);
    assert_eq!(result["timeseries"]["rows"].as_array().unwrap().len(), 0);
    assert_eq!(result["json"]["requests"]["completed"], 40);
    // What was sent live stayed within the limit.
    let live: usize = events
        .iter()
        .filter(|(name, _)| name == "points")
        .map(|(_, data)| data["rows"].as_array().unwrap().len())
        .sum();
    assert!(live <= 20_000, "{live}");
}
