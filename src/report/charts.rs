//! Charts as data, drawn with plotters: SVG for the page and `--svg`, PNG for `--png`.
//!
//! A chart holds only numbers taken from the tables (a point's mean, its `_ci95_lo`/`_ci95_hi`
//! columns): drawing never computes statistics of its own. The PNG path rasterises text with
//! the DejaVu Sans font compiled into the binary, so it needs no system fonts; the SVG path
//! measures text with the same font, so both lay out alike.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Error, Result};

/// Pixel size of every chart.
pub const SIZE: (u32, u32) = (760, 420);

/// The font plotters measures (SVG) and draws (PNG) text with.
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Line colors (a color-blind-safe qualitative palette); series beyond it reuse it.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];
const GREY: RGBColor = RGBColor(175, 175, 175);

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Points joined by a line, with interval bars where a point has them.
    Line,
    /// Points only.
    Dots,
    /// A step line (a CDF), no markers.
    Step,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    /// The 95% interval of y, from the table's `_ci95_lo`/`_ci95_hi`.
    pub interval: Option<(f64, f64)>,
    /// Text drawn beside the point.
    pub label: Option<String>,
}

impl Point {
    pub fn new(x: f64, y: f64) -> Point {
        Point {
            x,
            y,
            interval: None,
            label: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub mark: Mark,
    /// Drawn grey and without a legend entry (dominated points).
    pub grey: bool,
    pub points: Vec<Point>,
}

#[derive(Debug, Clone)]
pub struct Chart {
    /// The file stem for `--svg`/`--png` (letters, digits, `-`, `_`, `.`).
    pub name: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Names of categorical x positions 0, 1, 2, ... (None: x is a number).
    pub x_categories: Option<Vec<String>>,
    pub series: Vec<Series>,
}

impl Chart {
    /// True when there is something to draw.
    pub fn has_points(&self) -> bool {
        self.series.iter().any(|s| !s.points.is_empty())
    }

    /// The chart as an SVG document.
    pub fn to_svg(&self) -> Result<String> {
        register_font();
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
            self.draw(&root).map_err(|e| self.error(e))?;
            root.present().map_err(|e| self.error(e))?;
        }
        Ok(text)
    }

    /// Writes the chart as a PNG file.
    pub fn write_png(&self, path: &Path) -> Result<()> {
        register_font();
        let root = BitMapBackend::new(path, SIZE).into_drawing_area();
        self.draw(&root).map_err(|e| self.error(e))?;
        root.present()
            .map_err(|e| Error::new(format!("writing {}: {e}", path.display())))
    }

    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::new(format!("drawing chart {}: {e}", self.name))
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let (xs, ys) = self.ranges();
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FAMILY, 17))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(64)
            .build_cartesian_2d(xs.0..xs.1, ys.0..ys.1)?;
        let categories = self.x_categories.clone();
        let x_format = move |x: &f64| match &categories {
            Some(names) => {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                    names[i as usize].clone()
                } else {
                    String::new()
                }
            }
            None => tick(*x),
        };
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&x_format)
            .y_label_formatter(&|y| tick(*y))
            .label_style((FAMILY, 12))
            .light_line_style(WHITE);
        if let Some(names) = &self.x_categories {
            mesh.x_labels(names.len() * 2 + 1);
        }
        mesh.draw()?;
        let mut legend = false;
        let mut colored = 0;
        for series in &self.series {
            let color = if series.grey {
                GREY
            } else {
                colored += 1;
                PALETTE[(colored - 1) % PALETTE.len()]
            };
            let points = &series.points;
            match series.mark {
                Mark::Line => {
                    chart.draw_series(LineSeries::new(
                        points.iter().map(|p| (p.x, p.y)),
                        color.stroke_width(2),
                    ))?;
                }
                Mark::Step => {
                    let mut steps = Vec::with_capacity(points.len() * 2);
                    for (i, p) in points.iter().enumerate() {
                        if i > 0 {
                            steps.push((p.x, points[i - 1].y));
                        }
                        steps.push((p.x, p.y));
                    }
                    chart.draw_series(LineSeries::new(steps, color.stroke_width(2)))?;
                }
                Mark::Dots => {}
            }
            let half = (xs.1 - xs.0) * 0.006;
            for p in points.iter() {
                if let Some((lo, hi)) = p.interval {
                    let style = color.stroke_width(1);
                    chart.draw_series([
                        PathElement::new(vec![(p.x, lo), (p.x, hi)], style),
                        PathElement::new(vec![(p.x - half, lo), (p.x + half, lo)], style),
                        PathElement::new(vec![(p.x - half, hi), (p.x + half, hi)], style),
                    ])?;
                }
            }
            if series.mark != Mark::Step {
                let anno = chart.draw_series(
                    points
                        .iter()
                        .map(|p| Circle::new((p.x, p.y), 3, color.filled())),
                )?;
                if !series.grey && !series.name.is_empty() {
                    legend = true;
                    anno.label(&series.name).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                    });
                }
            } else if !series.name.is_empty() {
                legend = true;
                chart
                    .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
                    .label(&series.name)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                    });
            }
            // Labels right of their point, or left of it in the right half of the chart.
            let middle = (xs.0 + xs.1) / 2.0;
            chart.draw_series(points.iter().filter_map(|p| {
                p.label.as_ref().map(|l| {
                    let (anchor, text) = if p.x > middle {
                        (HPos::Right, format!("{l}  "))
                    } else {
                        (HPos::Left, format!("  {l}"))
                    };
                    let style = (FAMILY, 11)
                        .into_font()
                        .color(&RGBColor(40, 40, 40))
                        .pos(Pos::new(anchor, VPos::Center));
                    Text::new(text, (p.x, p.y), style)
                })
            }))?;
        }
        if legend {
            chart
                .configure_series_labels()
                .label_font((FAMILY, 12))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .position(self.emptiest_corner(xs, ys))
                .draw()?;
        }
        Ok(())
    }

    /// The corner with the fewest points near it, for the legend.
    fn emptiest_corner(&self, xs: (f64, f64), ys: (f64, f64)) -> SeriesLabelPosition {
        let mut counts = [0usize; 4];
        for p in self.series.iter().flat_map(|s| &s.points) {
            let u = (p.x - xs.0) / (xs.1 - xs.0);
            let v = (p.y - ys.0) / (ys.1 - ys.0);
            let near = |a: f64| a < 0.4;
            let far = |a: f64| a > 0.6;
            for (i, hit) in [
                near(u) && far(v),
                far(u) && far(v),
                near(u) && near(v),
                far(u) && near(v),
            ]
            .into_iter()
            .enumerate()
            {
                counts[i] += usize::from(hit);
            }
        }
        let best = (0..4).min_by_key(|&i| counts[i]).unwrap_or(0);
        match best {
            0 => SeriesLabelPosition::UpperLeft,
            1 => SeriesLabelPosition::UpperRight,
            2 => SeriesLabelPosition::LowerLeft,
            _ => SeriesLabelPosition::LowerRight,
        }
    }

    /// The x and y ranges covering every point and interval, padded; never empty.
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let mut x = (f64::INFINITY, f64::NEG_INFINITY);
        let mut y = x;
        let grow = |r: &mut (f64, f64), v: f64| {
            if v.is_finite() {
                r.0 = r.0.min(v);
                r.1 = r.1.max(v);
            }
        };
        for p in self.series.iter().flat_map(|s| &s.points) {
            grow(&mut x, p.x);
            grow(&mut y, p.y);
            if let Some((lo, hi)) = p.interval {
                grow(&mut y, lo);
                grow(&mut y, hi);
            }
        }
        if let Some(names) = &self.x_categories {
            x = (-0.5, names.len() as f64 - 0.5);
        }
        (pad(x, 0.04), pad(y, 0.08))
    }
}

fn pad(r: (f64, f64), share: f64) -> (f64, f64) {
    if !r.0.is_finite() {
        return (0.0, 1.0);
    }
    if r.1 - r.0 < 1e-12 {
        let d = if r.0 == 0.0 { 1.0 } else { r.0.abs() * 0.1 };
        return (r.0 - d, r.1 + d);
    }
    let d = (r.1 - r.0) * share;
    (r.0 - d, r.1 + d)
}

/// An axis tick: few digits, no trailing zeros.
fn tick(v: f64) -> String {
    super::load::short_number(if v.abs() < 1e-9 { 0.0 } else { v })
}

/// Plotters finds fonts by family name; the one registered here serves every chart.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are the font compiled in above; a failure would be a broken build.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// A file stem from free text: letters and digits kept, anything else one `-`.
pub fn file_stem(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_svg_with_paths() {
        let chart = Chart {
            name: "t".into(),
            title: "A title".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            x_categories: None,
            series: vec![Series {
                name: "s".into(),
                mark: Mark::Line,
                grey: false,
                points: vec![
                    Point::new(1.0, 2.0),
                    Point {
                        interval: Some((2.5, 3.5)),
                        ..Point::new(2.0, 3.0)
                    },
                ],
            }],
        };
        let svg = chart.to_svg().unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("A title"));
        assert!(svg.contains("<polyline") || svg.contains("<path"));
    }

    #[test]
    fn file_stems() {
        assert_eq!(
            file_stem("ttft_ms_p99 vs workload.arrival_rate"),
            "ttft_ms_p99-vs-workload-arrival_rate"
        );
    }
}
