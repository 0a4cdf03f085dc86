//! Aligned text tables whose columns are as wide as their widest cell, and number formats
//! with thousands separators, so that no value (1e7 ms, 1e10 tokens) ever pushes a row out of
//! line.

use std::io::{self, Write};

use console::style;

/// A titled table: an optional header row, then rows of a label and right-aligned cells.
pub struct Table {
    pub title: String,
    pub header: Option<Vec<String>>,
    pub rows: Vec<(String, Vec<String>)>,
}

impl Table {
    pub fn new(title: &str) -> Table {
        Table {
            title: title.to_string(),
            header: None,
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, label: &str, cells: Vec<String>) {
        self.rows.push((label.to_string(), cells));
    }
}

/// Column widths shared by `tables`: the label column and each cell column, each at least
/// its minimum and as wide as its widest entry plus a two-space gap.
pub struct Layout {
    label: usize,
    cells: Vec<usize>,
}

impl Layout {
    pub fn of(tables: &[&Table], min_label: usize, min_cell: usize) -> Layout {
        let mut label = min_label;
        let mut cells: Vec<usize> = Vec::new();
        for table in tables {
            let rows = table
                .rows
                .iter()
                .map(|(l, c)| (l.as_str(), c))
                .chain(table.header.as_ref().map(|h| ("", h)));
            for (l, row) in rows {
                label = label.max(l.chars().count() + 2);
                if cells.len() < row.len() {
                    cells.resize(row.len(), min_cell);
                }
                for (w, cell) in cells.iter_mut().zip(row) {
                    *w = (*w).max(cell.chars().count() + 2);
                }
            }
        }
        Layout { label, cells }
    }

    fn line(&self, label: &str, cells: &[String]) -> String {
        let mut line = format!("  {label:<w$}", w = self.label);
        for (cell, &w) in cells.iter().zip(&self.cells) {
            line.push_str(&format!("{cell:>w$}"));
        }
        line
    }
}

/// Writes the title (bold, underlined on a terminal), the header and every row.
pub fn write_table(out: &mut impl Write, table: &Table, layout: &Layout) -> io::Result<()> {
    writeln!(out, "\n{}", style(&table.title).bold().underlined())?;
    if let Some(header) = &table.header {
        writeln!(out, "{}", layout.line("", header))?;
    }
    for (label, cells) in &table.rows {
        writeln!(out, "{}", layout.line(label, cells))?;
    }
    Ok(())
}

/// Inserts a comma every three digits of the integer part: `12345678.9` -> `12,345,678.9`.
pub fn group_digits(text: &str) -> String {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (int, frac) = match rest.find('.') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if !int.bytes().all(|b| b.is_ascii_digit()) {
        return text.to_string(); // inf, NaN: leave as they are
    }
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}{frac}")
}

/// A count with thousands separators.
pub fn count(n: u64) -> String {
    group_digits(&n.to_string())
}

/// A number with `decimals` decimals and thousands separators.
pub fn number(x: f64, decimals: usize) -> String {
    group_digits(&format!("{x:.decimals$}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_grouped_by_three() {
        assert_eq!(group_digits("0"), "0");
        assert_eq!(group_digits("999"), "999");
        assert_eq!(group_digits("1000"), "1,000");
        assert_eq!(group_digits("-1234567.891"), "-1,234,567.891");
        assert_eq!(group_digits("123456"), "123,456");
        assert_eq!(group_digits("inf"), "inf");
        assert_eq!(count(10_000_000_000), "10,000,000,000");
        assert_eq!(number(12345.678, 2), "12,345.68");
    }

    #[test]
    fn every_row_of_a_table_is_as_wide_as_the_widest() {
        let mut t = Table::new("t");
        t.header = Some(vec!["a".into(), "b".into()]);
        t.row("short", vec![count(1), number(1e10, 2)]);
        t.row("a much longer label", vec![count(u64::MAX), "-".into()]);
        let layout = Layout::of(&[&t], 4, 6);
        let mut text = Vec::new();
        write_table(&mut text, &t, &layout).expect("write to memory");
        let text = String::from_utf8(text).expect("UTF-8");
        let widths: Vec<usize> = text.lines().skip(2).map(|l| l.chars().count()).collect();
        assert_eq!(widths.len(), 3, "{text}");
        assert!(widths.iter().all(|&w| w == widths[0]), "{widths:?}\n{text}");
    }
}
