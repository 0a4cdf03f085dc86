//! The report's tables of the traffic's structure: request classes and sessions.

use inference_lab::metrics::DistStats;
use inference_lab::RunSummary;

use super::table::{count, number, Table};

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| number(x, 2))
}

fn p50_p99(d: &DistStats) -> [String; 2] {
    [ms(d.p50), ms(d.p99)]
}

/// One row per class (workload.classes), and the sessions' summary (workload.sessions).
pub fn traffic_tables(s: &RunSummary) -> Vec<Table> {
    let mut tables = Vec::new();
    if !s.classes.is_empty() {
        let mut classes = Table::new("Classes");
        let judged = s.classes.iter().any(|c| c.goodput_requests_per_s.is_some());
        let mut header = [
            "done",
            "out tok/s",
            "TTFT p50",
            "TTFT p99",
            "E2E p50",
            "E2E p99",
            "TPOT p50",
            "TPOT p99",
        ]
        .map(String::from)
        .to_vec();
        if judged {
            header.extend(["SLO met %", "goodput/s"].map(String::from));
        }
        classes.header = Some(header);
        for c in &s.classes {
            let mut cells = vec![
                count(c.requests_completed),
                number(c.output_tokens_per_s, 1),
            ];
            for d in [&c.ttft_ms, &c.e2e_ms, &c.tpot_ms] {
                cells.extend(p50_p99(d));
            }
            if judged {
                let verdict = match c.slo_met {
                    Some(true) => " ok",
                    Some(false) => " MISSED",
                    None => "",
                };
                cells.push(match c.slo_attainment {
                    Some(a) => format!("{}{verdict}", number(100.0 * a, 1)),
                    None => "-".into(),
                });
                cells.push(
                    c.goodput_requests_per_s
                        .map_or("-".into(), |g| number(g, 2)),
                );
            }
            classes.row(&c.name, cells);
        }
        tables.push(classes);
    }
    if let Some(x) = &s.sessions {
        let mut sessions = Table::new("Sessions");
        sessions.row("started", vec![count(x.started)]);
        sessions.row(
            "completed",
            vec![format!(
                "{} ({} truncated)",
                count(x.completed),
                count(x.truncated)
            )],
        );
        sessions.row(
            "turns each (mean)",
            vec![x.turns_mean.map_or("-".into(), |t| number(t, 2))],
        );
        let d = &x.duration_s;
        sessions.row(
            "duration s (p50/p99)",
            vec![format!(
                "{} / {}",
                d.p50.map_or("-".into(), |v| number(v, 2)),
                d.p99.map_or("-".into(), |v| number(v, 2))
            )],
        );
        tables.push(sessions);
    }
    tables
}
