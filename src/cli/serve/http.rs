//! Routing one HTTP request to its handler, and the checks every request passes first.

use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::{json, Value};
use tiny_http::{Header, Method, Request, Response, StatusCode};

use super::form::{Form, Problem};
use super::{assets, events, runs, Server};

/// The largest request body (an uploaded config travels in one): 1 MiB.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// An answer that is not a success, with the status it goes out with.
pub struct Refusal {
    pub status: u16,
    pub problem: Problem,
}

impl Refusal {
    pub fn new(status: u16, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            problem: Problem {
                key: None,
                message: message.into(),
            },
        }
    }
}

/// Answers a request on a fresh thread, or at once with 503 when [`MAX_CONNECTIONS`] are
/// being answered already (each live page holds one for its run's events).
pub fn spawn(server: &Arc<Server>, request: Request) {
    if server.connections.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
        server.connections.fetch_sub(1, Ordering::SeqCst);
        return refuse(
            request,
            Refusal::new(503, "too many connections: try again"),
        );
    }
    let server = Arc::clone(server);
    std::thread::spawn(move || {
        handle(&server, request);
        server.connections.fetch_sub(1, Ordering::SeqCst);
    });
}

/// Requests answered at once, event streams included.
const MAX_CONNECTIONS: usize = 256;

fn handle(server: &Server, mut request: Request) {
    if let Err(refusal) = admit(server, &request) {
        return refuse(request, refusal);
    }
    let path = request.url().split('?').next().unwrap_or("").to_string();
    let method = request.method().clone();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let answer = match (&method, parts.as_slice()) {
        (Method::Get, [""]) => Ok(asset("index.html")),
        (Method::Get, ["assets", rest @ ..]) => Ok(asset(&rest.join("/"))),
        (Method::Get, ["api", "catalog"]) => Ok(json_response(200, &super::form::catalog(server))),
        (Method::Post, ["api", "config"]) => {
            read_json(&mut request).map(|body| json_response(200, &config(&body)))
        }
        (Method::Post, ["api", "runs"]) => read_json(&mut request).and_then(|body| {
            let reply = runs::submit(&server.runs, &body)?;
            Ok(json_response(202, &reply))
        }),
        (Method::Get, ["api", "runs", id, "events"]) => match server.runs.find(id) {
            // The stream takes over the connection.
            Some(run) => return events::stream(request, run),
            None => Err(Refusal::new(404, format!("no run {id:?} on this server"))),
        },
        (Method::Post, ["api", "runs", id, "stop"]) => match server.runs.stop(id) {
            true => Ok(json_response(200, &json!({ "stopping": true }))),
            false => Err(Refusal::new(404, format!("no run {id:?} on this server"))),
        },
        (Method::Get, ["api", "sweeps"]) => Ok(json_response(200, &super::sweeps::list(server))),
        (Method::Get, ["sweeps", name, "report.html"]) => {
            super::sweeps::report(server, name).map(|html| {
                Response::from_data(html.into_bytes())
                    .with_status_code(200)
                    .with_header(header("Content-Type", "text/html; charset=utf-8"))
            })
        }
        (Method::Get | Method::Post, _) => Err(Refusal::new(404, format!("no page {path:?}"))),
        _ => Err(Refusal::new(405, format!("{method} is not served here"))),
    };
    match answer {
        Ok(response) => {
            let _ = request.respond(response.with_header(header("Cache-Control", "no-store")));
        }
        Err(refusal) => refuse(request, refusal),
    }
}

/// The checks before routing: the Host a loopback server answers to (against DNS
/// rebinding), and no cross-site POST (a page elsewhere cannot start runs here).
fn admit(server: &Server, request: &Request) -> Result<(), Refusal> {
    let get = |name: &'static str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str().to_string())
    };
    if !server.hosts.is_empty() {
        let host = get("Host").unwrap_or_default();
        if !server.hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
            return Err(Refusal::new(
                403,
                format!("Host {host:?} is not this server's address"),
            ));
        }
    }
    if *request.method() == Method::Post {
        if let (Some(origin), Some(host)) = (get("Origin"), get("Host")) {
            let same = origin
                .strip_prefix("http://")
                .is_some_and(|o| o.eq_ignore_ascii_case(&host));
            if !same {
                return Err(Refusal::new(
                    403,
                    format!("a page of {origin} cannot post to this server"),
                ));
            }
        }
    }
    Ok(())
}

fn config(body: &Value) -> Value {
    match Form::from_json(body) {
        Ok(form) => form.check(),
        Err(problem) => json!({ "ok": false, "toml": "", "config": null, "warnings": [],
                                "error": problem, "derived": null }),
    }
}

fn asset(name: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    match assets::get(name) {
        Some((bytes, mime)) => Response::from_data(bytes)
            .with_status_code(200)
            .with_header(header("Content-Type", mime)),
        None => {
            Response::from_data(format!("no asset {name:?}").into_bytes()).with_status_code(404)
        }
    }
}

/// Reads a JSON body of at most [`MAX_BODY_BYTES`].
fn read_json(request: &mut Request) -> Result<Value, Refusal> {
    if request.body_length().is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| Refusal::new(400, format!("cannot read the request body: {e}")))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    serde_json::from_slice(&body)
        .map_err(|e| Refusal::new(400, format!("the request body is not JSON: {e}")))
}

fn too_large() -> Refusal {
    Refusal::new(
        413,
        format!(
            "the request is larger than {} KiB: upload a smaller config",
            MAX_BODY_BYTES / 1024
        ),
    )
}

pub fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("ASCII header")
}

pub fn json_response(status: u16, value: &Value) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_data(value.to_string().into_bytes())
        .with_status_code(StatusCode(status))
        .with_header(header("Content-Type", "application/json"))
}

fn refuse(request: Request, refusal: Refusal) {
    let body = json!({ "error": refusal.problem });
    let _ = request.respond(json_response(refusal.status, &body));
}
