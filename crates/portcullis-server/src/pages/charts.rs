//! Charts drawn on the server as SVG: bars stacked per bucket, and lines.
//! No script and no library; colours come from the stylesheet's classes,
//! so they follow the light and dark themes. Every chart is an image with
//! a text alternative, and the page has the numbers in a table besides.

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use std::fmt::Write;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 10.0;

/// One series: its name (the legend), its stylesheet class, a value per bucket.
pub struct Series {
    pub name: &'static str,
    pub class: &'static str,
    pub values: Vec<f64>,
}

/// A rounded top of the value axis: 1, 2 or 5 times a power of ten.
fn nice_max(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * p).find(|v| *v >= max).unwrap_or(10.0 * p)
}

fn number(v: f64) -> String {
    if v >= 1_000_000.0 {
        format!("{:.1}M", v / 1_000_000.0)
    } else if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The frame: the value axis with three grid lines, and up to eight bucket labels.
fn frame(out: &mut String, title: &str, summary: &str, max: f64, labels: &[String], unit: &str) {
    let _ = write!(out, "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\" preserveAspectRatio=\"xMidYMid meet\"><title>{}</title>", attr(&format!("{title}: {summary}")), text(title));
    let plot_h = HEIGHT - TOP - BOTTOM;
    for i in 0..=2 {
        let v = max * i as f64 / 2.0;
        let y = TOP + plot_h - plot_h * i as f64 / 2.0;
        let _ = write!(out, "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{WIDTH}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}{}</text>", LEFT - 6.0, y + 4.0, number(v), text(unit));
    }
    let n = labels.len().max(1);
    let step = n.div_ceil(8).max(1);
    let slot = (WIDTH - LEFT) / n as f64;
    for (i, l) in labels.iter().enumerate().step_by(step) {
        let x = LEFT + slot * (i as f64 + 0.5);
        let _ = write!(out, "<text class=\"axis\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>", HEIGHT - 8.0, text(l));
    }
}

fn legend(series: &[Series]) -> String {
    let mut out = String::from("<ul class=\"legend\">");
    for s in series {
        let total: f64 = s.values.iter().sum();
        let _ = write!(out, "<li><span class=\"swatch {}\" aria-hidden=\"true\"></span>{} <span class=\"note\">({})</span></li>", attr(s.class), text(s.name), number(total));
    }
    out.push_str("</ul>");
    out
}

/// Bars per bucket, the series stacked, with a legend of totals.
pub fn stacked_bars(title: &str, labels: &[String], series: &[Series]) -> String {
    let n = labels.len().max(1);
    let totals: Vec<f64> = (0..n).map(|i| series.iter().map(|s| s.values.get(i).copied().unwrap_or(0.0)).sum()).collect();
    let max = nice_max(totals.iter().copied().fold(0.0, f64::max));
    let summary = series.iter().map(|s| format!("{} {}", number(s.values.iter().sum()), s.name)).collect::<Vec<_>>().join(", ");
    let mut out = String::new();
    frame(&mut out, title, &summary, max, labels, "");
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = (WIDTH - LEFT) / n as f64;
    let bar_w = (slot * 0.7).max(1.0);
    for i in 0..n {
        let mut y = TOP + plot_h;
        let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
        for s in series {
            let v = s.values.get(i).copied().unwrap_or(0.0);
            if v <= 0.0 {
                continue;
            }
            let h = plot_h * v / max;
            y -= h;
            let _ = write!(out, "<rect class=\"{}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\"><title>{}: {} {}</title></rect>", attr(s.class), text(&labels[i.min(labels.len().saturating_sub(1))]), number(v), text(s.name));
        }
    }
    out.push_str("</svg>");
    out + &legend(series)
}

/// Lines through each series' values; buckets without a value break the line.
pub fn lines(title: &str, labels: &[String], series: &[(&'static str, &'static str, Vec<Option<f64>>)], unit: &str) -> String {
    let n = labels.len().max(1);
    let max = nice_max(series.iter().flat_map(|s| s.2.iter().flatten().copied()).fold(0.0, f64::max));
    let summary = series
        .iter()
        .map(|(name, _, v)| {
            let known: Vec<f64> = v.iter().flatten().copied().collect();
            match known.iter().copied().fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x)))) {
                Some(top) => format!("{name} up to {}{unit}", number(top)),
                None => format!("no {name} recorded"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = String::new();
    frame(&mut out, title, &summary, max, labels, unit);
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = (WIDTH - LEFT) / n as f64;
    for (_, class, values) in series {
        let mut d = String::new();
        let mut dots = String::new();
        let mut pen_down = false;
        for (i, v) in values.iter().enumerate() {
            match v {
                Some(v) => {
                    let x = LEFT + slot * (i as f64 + 0.5);
                    let y = TOP + plot_h - plot_h * v / max;
                    let _ = write!(d, "{}{x:.1},{y:.1} ", if pen_down { "L" } else { "M" });
                    // A dot per value: a lone value (no neighbour) still shows.
                    let _ = write!(dots, "<circle class=\"{}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\"><title>{}: {}{}</title></circle>", attr(class), text(&labels[i.min(labels.len().saturating_sub(1))]), number(*v), text(unit));
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        if !d.is_empty() {
            let _ = write!(out, "<path class=\"{}\" d=\"{}\"/>{dots}", attr(class), d.trim_end());
        }
    }
    out.push_str("</svg><ul class=\"legend\">");
    for (name, class, _) in series {
        let _ = write!(out, "<li><span class=\"swatch {}\" aria-hidden=\"true\"></span>{}</li>", attr(class), text(name));
    }
    out.push_str("</ul>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_round_up_and_bars_stack_to_their_totals() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(120.0), 200.0);
        let labels = vec!["a".to_owned(), "b <c>".to_owned()];
        let svg = stacked_bars("Sign-ins", &labels, &[Series { name: "succeeded", class: "ok", values: vec![2.0, 0.0] }, Series { name: "failed", class: "bad", values: vec![1.0, 0.0] }]);
        assert_eq!(svg.matches("<rect").count(), 2, "empty buckets draw nothing");
        assert!(svg.contains("3 succeeded") || svg.contains("2 succeeded"));
        assert!(svg.contains("b &lt;c&gt;"), "labels are escaped");
        let line = lines("Latency", &labels, &[("p50", "p50", vec![Some(3.0), None])], " ms");
        assert!(line.contains("M") && !line.contains(" L"), "a gap breaks the line");
    }
}
