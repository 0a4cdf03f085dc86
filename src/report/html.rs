//! The page: one HTML document with its styles, its script and its charts inline, so it opens
//! offline, from an e-mail attachment or a CI artefact, with nothing fetched.

use serde_json::Value;

use super::charts::Chart;
use super::load::{cell_text, Table};

/// A page being built: sections in order, and the charts it holds (also written by `--svg`).
#[derive(Debug, Default)]
pub struct Page {
    pub title: String,
    body: String,
    pub charts: Vec<Chart>,
    /// Data blocks: (element id, JSON).
    data: Vec<(String, Value)>,
}

impl Page {
    pub fn new(title: &str) -> Page {
        Page {
            title: title.to_string(),
            ..Page::default()
        }
    }

    pub fn heading(&mut self, text: &str) {
        self.body.push_str(&format!("<h2>{}</h2>\n", escape(text)));
    }

    pub fn paragraph(&mut self, text: &str) {
        self.body.push_str(&format!("<p>{}</p>\n", escape(text)));
    }

    /// A note in a muted box: something absent, or how to read what follows.
    pub fn note(&mut self, text: &str) {
        self.body
            .push_str(&format!("<p class=\"note\">{}</p>\n", escape(text)));
    }

    pub fn preformatted(&mut self, text: &str) {
        self.body
            .push_str(&format!("<pre>{}</pre>\n", escape(text)));
    }

    /// A chart inline as SVG, with its caption; a chart without points becomes a note.
    pub fn chart(&mut self, chart: Chart, caption: &str) {
        if !chart.has_points() {
            self.note(&format!("{}: no data to draw.", chart.title));
            return;
        }
        match chart.to_svg() {
            Ok(svg) => {
                self.body.push_str(&format!(
                    "<figure data-chart=\"{}\">{svg}<figcaption>{}</figcaption></figure>\n",
                    escape(&chart.name),
                    escape(caption)
                ));
                self.charts.push(chart);
            }
            Err(e) => self.note(e.message()),
        }
    }

    /// A table; `sortable` adds click-to-sort headers. `marked` rows get the `sig` class.
    pub fn table(&mut self, table: &Table, sortable: bool, marked: &[bool]) {
        let class = if sortable { " class=\"sortable\"" } else { "" };
        let mut html = format!("<div class=\"scroll\"><table{class}><thead><tr>");
        for column in &table.columns {
            html.push_str(&format!("<th>{}</th>", escape(column)));
        }
        html.push_str("</tr></thead><tbody>\n");
        for (r, row) in table.rows.iter().enumerate() {
            let sig = marked.get(r).copied().unwrap_or(false);
            html.push_str(if sig { "<tr class=\"sig\">" } else { "<tr>" });
            for value in row {
                let sort_key = match value {
                    Value::Number(n) => format!(" data-v=\"{}\"", n),
                    _ => String::new(),
                };
                html.push_str(&format!("<td{sort_key}>{}</td>", escape(&cell_text(value))));
            }
            html.push_str("</tr>\n");
        }
        html.push_str("</tbody></table></div>\n");
        self.body.push_str(&html);
    }

    /// Embeds `value` as `<script type="application/json" id="{id}">`, for scripts and tests.
    pub fn data(&mut self, id: &str, value: Value) {
        self.data.push((id.to_string(), value));
    }

    /// The finished document.
    pub fn render(&self) -> String {
        let mut data = String::new();
        for (id, value) in &self.data {
            // `</` inside the JSON would end the script element early; `<\/` is the same JSON.
            let json = value.to_string().replace("</", "<\\/");
            data.push_str(&format!(
                "<script type=\"application/json\" id=\"{}\">{json}</script>\n",
                escape(id)
            ));
        }
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}</title>\n<style>{STYLE}</style></head>\n<body>\n\
             <h1>{title}</h1>\n{body}{data}<script>{SCRIPT}</script>\n</body></html>\n",
            title = escape(&self.title),
            body = self.body,
        )
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;\
padding:0 1em;color:#222;line-height:1.45}\
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}\
figure{margin:1em 0}figure svg{max-width:100%;height:auto}\
figcaption{font-size:.9em;color:#555}\
.note{background:#f6f6f6;border-left:3px solid #bbb;padding:.4em .8em;color:#555}\
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.85em}\
th,td{border:1px solid #ddd;padding:.2em .5em;text-align:right;white-space:nowrap}\
th{background:#f3f3f3}table.sortable th{cursor:pointer}\
th.asc:after{content:' \\25B2'}th.desc:after{content:' \\25BC'}\
tr.sig td{background:#fff3c4;font-weight:600}\
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.85em}";

/// Click a header to sort by it (numbers by value, text alphabetically; again to reverse).
const SCRIPT: &str = r#"
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var asc = !th.classList.contains('asc');
      table.querySelectorAll('th').forEach(function (h) { h.classList.remove('asc', 'desc'); });
      th.classList.add(asc ? 'asc' : 'desc');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col], y = b.cells[col];
        var u = x.getAttribute('data-v'), v = y.getAttribute('data-v');
        var d = (u !== null && v !== null) ? parseFloat(u) - parseFloat(v)
          : x.textContent.localeCompare(y.textContent);
        return asc ? d : -d;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }

    #[test]
    fn data_cannot_end_its_script_early() {
        let mut page = Page::new("t");
        let value = serde_json::json!({ "error": "</script><script>alert(1)</script>" });
        page.data("d", value.clone());
        let html = page.render();
        let open = "<script type=\"application/json\" id=\"d\">";
        let start = html.find(open).unwrap() + open.len();
        let end = start + html[start..].find("</script>").unwrap();
        let back: Value = serde_json::from_str(&html[start..end]).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn tables_mark_rows_and_keep_numbers_sortable() {
        let mut page = Page::new("t");
        let table = Table {
            columns: vec!["a".into(), "b".into()],
            rows: vec![
                vec![Value::from(1.5), Value::from("<x>")],
                vec![Value::from(2), Value::Null],
            ],
        };
        page.table(&table, true, &[false, true]);
        let html = page.render();
        assert!(html.contains("<table class=\"sortable\">"));
        assert!(html.contains("<td data-v=\"1.5\">1.5</td><td>&lt;x&gt;</td>"));
        assert!(html.contains("<tr class=\"sig\"><td data-v=\"2\">2</td><td></td>"));
    }
}
