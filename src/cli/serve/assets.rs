//! The page's files, embedded in the binary so that `serve` works from anywhere and never
//! needs the network. The chart library (uPlot) is vendored in assets/web/vendor with its
//! licence and version.
//!
//! The page's script is ES modules: app.js (state and wiring) imports the others.
//!
//! For working on the page, `INFERENCE_LAB_WEB_ASSETS=assets/web` (set by whoever starts
//! the server) reads the same files from that folder on every request instead. Only these
//! names are ever read, whatever a request asks for.

/// (name under /assets/ or the page itself, content type, embedded bytes).
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../../assets/web/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/web/app.js"),
    ),
    (
        "util.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/web/util.js"),
    ),
    (
        "form.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/web/form.js"),
    ),
    (
        "run.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/web/run.js"),
    ),
    (
        "results.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/web/results.js"),
    ),
    (
        "charts.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/web/charts.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../assets/web/app.css"),
    ),
    (
        "vendor/uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/web/vendor/uPlot.iife.min.js"),
    ),
    (
        "vendor/uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../assets/web/vendor/uPlot.min.css"),
    ),
];

/// The file `name` and its content type, if it is one of the page's.
pub fn get(name: &str) -> Option<(Vec<u8>, &'static str)> {
    let &(name, mime, embedded) = FILES.iter().find(|(n, _, _)| *n == name)?;
    if let Some(dir) = std::env::var_os("INFERENCE_LAB_WEB_ASSETS") {
        if let Ok(bytes) = std::fs::read(std::path::Path::new(&dir).join(name)) {
            return Some((bytes, mime));
        }
    }
    Some((embedded.to_vec(), mime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pages_files_are_served() {
        assert!(get("index.html").is_some());
        assert!(get("vendor/uPlot.iife.min.js").is_some());
        for name in [
            "../Cargo.toml",
            "/etc/passwd",
            "vendor/../../Cargo.toml",
            "",
        ] {
            assert!(get(name).is_none(), "{name}");
        }
    }

    #[test]
    fn the_page_loads_only_its_own_files() {
        let page = String::from_utf8(get("index.html").unwrap().0).unwrap();
        let remote = page.split(['"', '\'']).find(|s| s.starts_with("http"));
        assert_eq!(remote, None, "the page must work offline");
        for needed in [
            "/assets/app.js",
            "/assets/app.css",
            "/assets/vendor/uPlot.iife.min.js",
        ] {
            assert!(page.contains(needed), "index.html does not load {needed}");
        }
    }
}
