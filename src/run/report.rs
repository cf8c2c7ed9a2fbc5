//! A run's report as text and as one self-contained HTML page: the charts (throughput in and
//! out, latency percentiles, lag, checkpoints, operators' busy time and back pressure) are SVG
//! drawn here, the job graph is the script's table graph drawn by the pipeline report
//! ([`crate::pipeline::Report::to_svg`]), and nothing is fetched from the network.

use std::fmt::Write as _;

use super::{Plan, RunReport};
use crate::pipeline::Report as Lineage;
use crate::pipeline::report::{STYLE, escape};

/// A line on a chart: its label, color and points (x in seconds, y).
struct Series<'a> {
    label: &'a str,
    color: &'static str,
    points: Vec<(f64, f64)>,
}

const COLORS: [&str; 6] = [
    "#1c7ed6", "#e8590c", "#2f9e44", "#ae3ec9", "#f08c00", "#0ca678",
];

/// A round upper bound for an axis holding values up to `max`.
fn nice_ceiling(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * magnitude)
}

/// A line chart as SVG: axes with ticks, one polyline per series, a legend.
fn line_chart(title: &str, unit: &str, series: &[Series<'_>]) -> String {
    const W: f64 = 560.0;
    const PLOT: f64 = 240.0;
    const LEFT: f64 = 58.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 34.0;
    const BOTTOM: f64 = 34.0;
    const LEGEND_ROW: f64 = 16.0;
    // The legend's entries, placed left to right and wrapped into rows below the plot.
    let mut legend = Vec::new();
    let (mut legend_x, mut row) = (LEFT, 0usize);
    for s in series.iter().filter(|s| !s.points.is_empty()) {
        let width = 24.0 + 6.5 * s.label.chars().count() as f64;
        if legend_x + width > W - RIGHT && legend_x > LEFT {
            legend_x = LEFT;
            row += 1;
        }
        legend.push((s, legend_x, row));
        legend_x += width;
    }
    let rows = legend.last().map_or(1, |(_, _, r)| r + 1);
    let height = PLOT + LEGEND_ROW * (rows as f64 - 1.0);
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let x_max = xs.fold(0.0f64, f64::max).max(1.0);
    let y_max = nice_ceiling(
        series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(0.0f64, f64::max),
    );
    let px = |x: f64| LEFT + x / x_max * (W - LEFT - RIGHT);
    let py = |y: f64| TOP + (1.0 - y / y_max) * (PLOT - TOP - BOTTOM);
    let mut svg = format!(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {height}\" \
         width=\"{W}\" height=\"{height}\" role=\"img\" aria-label=\"{t}\">\
         <text class=\"title\" x=\"{LEFT}\" y=\"20\">{t}</text>",
        t = escape(title)
    );
    for i in 0..=4 {
        let y = y_max * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            py(y) + 4.0,
            short(y),
            py = py(y),
        );
    }
    for i in 0..=4 {
        let x = x_max * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{:.*}s</text>",
            px(x),
            PLOT - BOTTOM + 16.0,
            usize::from(x_max < 8.0),
            x
        );
    }
    let _ = write!(
        svg,
        "<text class=\"unit\" x=\"{:.1}\" y=\"20\" text-anchor=\"end\">{}</text>",
        W - RIGHT,
        escape(unit)
    );
    for s in series {
        if s.points.is_empty() {
            continue;
        }
        let points: Vec<String> = s
            .points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        let _ = write!(
            svg,
            "<polyline class=\"series\" fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" \
             points=\"{}\"/>",
            points.join(" "),
            c = s.color
        );
        if s.points.len() == 1 {
            let (x, y) = s.points[0];
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
                px(x),
                py(y),
                s.color
            );
        }
    }
    for (s, x, row) in legend {
        let y = PLOT + LEGEND_ROW * row as f64;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text class=\"legend\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            y - 12.0,
            s.color,
            x + 14.0,
            y - 3.0,
            escape(s.label)
        );
    }
    if series.iter().all(|s| s.points.is_empty()) {
        let _ = write!(
            svg,
            "<text class=\"empty\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">no data</text>",
            W / 2.0,
            PLOT / 2.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A number for an axis: `1.5k`, `20`, `0.25`.
fn short(value: f64) -> String {
    match value {
        v if v >= 1e6 => format!("{:.1}M", v / 1e6),
        v if v >= 1e3 => format!("{:.1}k", v / 1e3),
        v if v >= 10.0 || v == 0.0 => format!("{v:.0}"),
        v => format!("{v:.2}"),
    }
}

impl RunReport {
    /// A summary for people: what was produced and read, throughput, latency, checkpoints,
    /// restarts, and the failure if there was one.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "job {} ({}) {} on {}",
            self.job.name, self.job.id, self.job.state, self.job.target
        );
        for s in &self.sources {
            let _ = writeln!(
                out,
                "produced {:>8} rows into {} ({}){}",
                s.produced,
                s.table,
                s.from,
                if s.failed > 0 {
                    format!(", {} not acknowledged", s.failed)
                } else {
                    String::new()
                }
            );
        }
        for s in &self.sinks {
            let _ = writeln!(
                out,
                "read     {:>8} records from {} ({})",
                s.consumed, s.table, s.topic
            );
        }
        let _ = writeln!(
            out,
            "throughput {:.1} records/s in, {:.1} records/s out",
            self.throughput.in_per_s, self.throughput.out_per_s
        );
        match &self.latency_ms {
            Some(l) => {
                let _ = writeln!(
                    out,
                    "latency p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms ({} records)",
                    l.p50,
                    l.p95,
                    l.p99,
                    self.sinks.iter().map(|s| s.measured).sum::<u64>()
                );
            }
            None => out.push_str("latency not measured: no sink record matched a source record\n"),
        }
        if let Some(last) = self.samples.last() {
            let _ = writeln!(
                out,
                "checkpoints {} completed, {} failed; restarts {}; lag at the end {} records",
                last.checkpoints.completed,
                last.checkpoints.failed,
                last.restarts,
                self.lag.last().map_or(0, |l| l.records)
            );
        }
        if let Some(failure) = &self.failure {
            let _ = writeln!(out, "FAILED: {failure}");
        }
        out
    }

    /// The report as one self-contained HTML page (see the [module documentation](self)).
    pub fn to_html(&self, plan: &Plan) -> String {
        let seconds = |ms: u64| ms as f64 / 1000.0;
        let mut throughput = vec![
            Series {
                label: "sources emitted/s",
                color: COLORS[0],
                points: self
                    .samples
                    .iter()
                    .skip(1)
                    .map(|s| (seconds(s.at_ms), s.in_per_s))
                    .collect(),
            },
            Series {
                label: "sinks received/s",
                color: COLORS[1],
                points: self
                    .samples
                    .iter()
                    .skip(1)
                    .map(|s| (seconds(s.at_ms), s.out_per_s))
                    .collect(),
            },
        ];
        let produced_labels: Vec<String> = self
            .sources
            .iter()
            .map(|s| format!("{} produced/s", s.table))
            .collect();
        for (i, (source, label)) in self.sources.iter().zip(&produced_labels).enumerate() {
            throughput.push(Series {
                label,
                color: COLORS[(2 + i) % COLORS.len()],
                points: source
                    .per_second
                    .iter()
                    .enumerate()
                    .map(|(t, n)| (t as f64 + 0.5, *n as f64))
                    .collect(),
            });
        }
        let latency = [("p50", 0), ("p95", 1), ("p99", 3)].map(|(label, color)| Series {
            label,
            color: COLORS[color],
            points: self
                .latency_over_time
                .iter()
                .map(|p| {
                    let value = match label {
                        "p50" => p.percentiles.p50,
                        "p95" => p.percentiles.p95,
                        _ => p.percentiles.p99,
                    };
                    (seconds(p.at_ms) + 0.5, value)
                })
                .collect(),
        });
        let lag = [Series {
            label: "records behind",
            color: COLORS[3],
            points: self
                .lag
                .iter()
                .map(|l| (seconds(l.at_ms), l.records as f64))
                .collect(),
        }];
        let checkpoints = [
            Series {
                label: "completed",
                color: COLORS[2],
                points: self
                    .samples
                    .iter()
                    .map(|s| (seconds(s.at_ms), s.checkpoints.completed as f64))
                    .collect(),
            },
            Series {
                label: "failed",
                color: COLORS[1],
                points: self
                    .samples
                    .iter()
                    .map(|s| (seconds(s.at_ms), s.checkpoints.failed as f64))
                    .collect(),
            },
        ];
        let names: Vec<String> = self
            .samples
            .last()
            .map(|s| s.vertices.iter().map(|v| v.name.clone()).collect())
            .unwrap_or_default();
        let short_names: Vec<String> = names
            .iter()
            .map(|n| n.chars().take(28).collect::<String>())
            .collect();
        let load = |busy: bool| -> Vec<Series<'_>> {
            names
                .iter()
                .zip(&short_names)
                .enumerate()
                .map(|(i, (name, label))| Series {
                    label,
                    color: COLORS[i % COLORS.len()],
                    points: self
                        .samples
                        .iter()
                        .filter_map(|s| {
                            s.vertices.iter().find(|v| &v.name == name).map(|v| {
                                let value = if busy {
                                    v.busy_ms_per_s
                                } else {
                                    v.backpressured_ms_per_s
                                };
                                (seconds(s.at_ms), value / 10.0)
                            })
                        })
                        .collect(),
                })
                .collect()
        };
        let mut operators = String::new();
        if let Some(last) = self.samples.last() {
            for v in &last.vertices {
                let _ = writeln!(
                    operators,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{:.0}%</td>\
                     <td>{:.0}%</td></tr>",
                    escape(&v.name),
                    v.records_in,
                    v.records_out,
                    v.busy_ms_per_s / 10.0,
                    v.backpressured_ms_per_s / 10.0
                );
            }
        }
        let mut tables = String::new();
        for s in &self.sources {
            let _ = writeln!(
                tables,
                "<tr><td>source</td><td><b>{}</b></td><td><code>{}</code></td><td>{}</td>\
                 <td>{} produced</td></tr>",
                escape(&s.table),
                escape(&s.topic),
                escape(&s.from),
                s.produced
            );
        }
        for s in &self.sinks {
            let _ = writeln!(
                tables,
                "<tr><td>sink</td><td><b>{}</b></td><td><code>{}</code></td><td>latency by {}</td>\
                 <td>{} read, {} measured</td></tr>",
                escape(&s.table),
                escape(&s.topic),
                if s.match_columns.is_empty() {
                    "—".to_string()
                } else {
                    escape(&s.match_columns.join(", "))
                },
                s.consumed,
                s.measured
            );
        }
        let graph = plan
            .sinks
            .first()
            .map(|s| s.name.clone())
            .or_else(|| plan.graph().order.last().cloned())
            .and_then(|table| Lineage::build(plan.script(), &table).ok())
            .map_or_else(String::new, |l| l.to_svg());
        let tiles = {
            let latency = self.latency_ms.map_or("—".to_string(), |l| {
                format!("{:.0} / {:.0} / {:.0} ms", l.p50, l.p95, l.p99)
            });
            let last = self.samples.last();
            format!(
                "<div class=\"tile\"><span>produced</span><b>{}</b></div>\
                 <div class=\"tile\"><span>read from sinks</span><b>{}</b></div>\
                 <div class=\"tile\"><span>throughput in / out</span><b>{:.1} / {:.1} /s</b></div>\
                 <div class=\"tile\"><span>latency p50 / p95 / p99</span><b>{}</b></div>\
                 <div class=\"tile\"><span>checkpoints (failed)</span><b>{} ({})</b></div>\
                 <div class=\"tile\"><span>restarts</span><b>{}</b></div>",
                self.produced.values().sum::<u64>(),
                self.consumed.values().sum::<u64>(),
                self.throughput.in_per_s,
                self.throughput.out_per_s,
                latency,
                last.map_or(0, |s| s.checkpoints.completed),
                last.map_or(0, |s| s.checkpoints.failed),
                self.job.restarts,
            )
        };
        let failure = match &self.failure {
            Some(f) => format!(
                "<div class=\"failure\"><b>The run failed:</b> {}</div>",
                escape(f)
            ),
            None => String::new(),
        };
        let exception = match (&self.exception, &self.failure) {
            (Some(e), None) => format!(
                "<details><summary>the job's last exception</summary><pre>{}</pre></details>",
                escape(e)
            ),
            _ => String::new(),
        };
        let c = &self.config;
        let config = format!(
            "<table><tbody><tr><th>script</th><td><code>{}</code></td></tr>\
             <tr><th>duration</th><td>{:.0}s</td></tr><tr><th>rate</th><td>{}</td></tr>\
             <tr><th>traffic pattern</th><td>{}</td></tr><tr><th>topics' suffix</th><td><code>{}</code></td></tr>\
             <tr><th>sampled every</th><td>{}</td></tr><tr><th>seed</th><td>{}</td></tr>\
             <tr><th>kept</th><td>{}</td></tr><tr><th>latency</th><td>{}</td></tr>\
             <tr><th>lag</th><td>{}</td></tr></tbody></table>\
             <details><summary>SQL (secrets masked)</summary><pre>{}</pre></details>",
            escape(&c.script),
            c.duration_s,
            escape(&c.rate),
            if c.traffic_pattern.is_empty() {
                "steady".to_string()
            } else {
                escape(&c.traffic_pattern)
            },
            escape(&c.topic_suffix),
            c.sample_every_s
                .map_or("at the end only".to_string(), |s| format!("{s}s")),
            c.seed,
            c.keep,
            escape(self.latency_method),
            escape(self.lag_method),
            escape(&c.sql),
        );
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>Run of {title}</title>\n<style>{STYLE}{CHART_STYLE}</style>\n</head>\n<body>\n\
             <header><h1>Run of <span class=\"name\">{title}</span></h1>\n\
             <p>job <code>{job}</code> ({id}) · {state} on {target} · generated by flinkit \
             {version}</p></header>\n<main>\n{failure}<section class=\"tiles\">{tiles}</section>\n\
             <h2>Throughput</h2>\n<div class=\"charts\">{throughput}{lag}</div>\n\
             <h2>Latency</h2>\n<div class=\"charts\">{latency}{checkpoints}</div>\n\
             <h2>Operators</h2>\n<div class=\"charts\">{busy}{pressure}</div>\n\
             <table><thead><tr><th>operator chain</th><th>records in</th><th>records out</th>\
             <th>busy</th><th>back pressure</th></tr></thead><tbody>{operators}</tbody></table>\n\
             <h2>Job graph</h2>\n<section class=\"graph\">{graph}</section>\n\
             <table><thead><tr><th>role</th><th>table</th><th>topic</th><th></th><th>records</th>\
             </tr></thead><tbody>{tables}</tbody></table>\n{exception}\
             <h2>Configuration</h2>\n{config}</main>\n</body>\n</html>\n",
            title = escape(&self.config.script),
            job = escape(&self.job.name),
            id = escape(&self.job.id),
            state = escape(&self.job.state),
            target = escape(&self.job.target),
            version = env!("CARGO_PKG_VERSION"),
            throughput = line_chart("Throughput", "records/s", &throughput),
            lag = line_chart("Source lag", "records", &lag),
            latency = line_chart("End-to-end latency", "ms", &latency),
            checkpoints = line_chart("Checkpoints", "count", &checkpoints),
            busy = line_chart("Busy time (busiest subtask)", "%", &load(true)),
            pressure = line_chart("Back pressure (most pressured subtask)", "%", &load(false)),
        )
    }
}

const CHART_STYLE: &str = "
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; }
.tile { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 10px 14px; }
.tile span { display: block; color: var(--muted); font-size: 12px; }
.tile b { font-size: 20px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; margin-bottom: 12px; }
.chart { background: #fff; border: 1px solid var(--line); border-radius: 10px; }
.chart .title { font: 600 13px system-ui, sans-serif; fill: var(--ink); }
.chart .tick, .chart .unit, .chart .legend { font: 11px system-ui, sans-serif; fill: var(--muted); }
.chart .empty { font: 13px system-ui, sans-serif; fill: var(--muted); }
.chart .grid { stroke: #e9ecef; }
.failure { background: #fff5f5; border: 1px solid #ffa8a8; color: #c92a2a; border-radius: 10px;
  padding: 10px 14px; margin-bottom: 12px; white-space: pre-wrap; }
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_round_up_to_readable_bounds() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(180.0), 200.0);
        assert_eq!(nice_ceiling(2400.0), 2500.0);
        assert_eq!(short(1500.0), "1.5k");
        assert_eq!(short(0.25), "0.25");
    }

    #[test]
    fn a_chart_draws_one_line_per_series_with_data_and_says_when_it_has_none() {
        let svg = line_chart(
            "T <x>",
            "ms",
            &[
                Series {
                    label: "a",
                    color: COLORS[0],
                    points: vec![(0.0, 1.0), (1.0, 3.0)],
                },
                Series {
                    label: "b",
                    color: COLORS[1],
                    points: vec![],
                },
            ],
        );
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains("T &lt;x&gt;"));
        assert!(!svg.contains("no data"));
        assert!(line_chart("E", "", &[]).contains("no data"));
        let labels = [
            "a long series label one",
            "another long label two",
            "and a third one",
            "and a fourth",
        ];
        let many: Vec<Series<'_>> = labels
            .iter()
            .map(|label| Series {
                label,
                color: COLORS[0],
                points: vec![(0.0, 1.0)],
            })
            .collect();
        let wrapped = line_chart("W", "", &many);
        assert!(
            wrapped.contains("height=\"256\""),
            "one more legend row: {wrapped}"
        );
    }
}
