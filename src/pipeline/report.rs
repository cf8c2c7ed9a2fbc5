//! A table's lineage report: its ancestors and descendants in the folder's table graph, laid
//! out in layers, as JSON, a Mermaid flowchart, or one self-contained HTML page with the graph
//! drawn as SVG. Built from the SQL alone (no cluster, no connector needed), so it also works
//! on folders written for other Flink dialects, such as Confluent Cloud's tables without
//! `'connector'`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::PipelineError;
use super::plan::stateful;
use crate::lineage::{Graph, LineageError, Role};
use crate::sql::{Detail, Script};
use crate::vars::MaskedSource;

/// How a node of the report relates to its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    /// It feeds the table, directly or not.
    Ancestor,
    /// The table itself.
    Table,
    /// The table feeds it, directly or not.
    Descendant,
}

/// Where a statement is: its file and line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    /// The file (or input) it came from.
    pub file: String,
    /// Its 1-based first line.
    pub line: usize,
}

/// A table (or view) of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportNode {
    /// Its name.
    pub name: String,
    /// Ancestor, the table, or descendant.
    pub relation: Relation,
    /// Its role in the whole folder.
    pub role: Role,
    /// Its `'connector'`, when its DDL names one.
    pub connector: Option<String>,
    /// Its column in the drawing: every node is right of all its parents in the report.
    pub layer: usize,
    /// Why the statement that writes it keeps state (`GROUP BY`, `JOIN`, …), if it does.
    pub stateful: Option<&'static str>,
    /// Its `CREATE TABLE` or `CREATE VIEW`.
    pub ddl: Option<Place>,
    /// The statement that writes it.
    pub dml: Option<Place>,
    /// Its parents in the report.
    pub parents: Vec<String>,
    /// Its children in the report.
    pub children: Vec<String>,
    /// The text of its DDL and DML, secret option values masked (for the HTML page).
    #[serde(skip)]
    sql: Vec<String>,
}

/// An edge of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportEdge {
    /// The table read.
    pub from: String,
    /// The table written.
    pub to: String,
}

/// The lineage of one table: its ancestors and descendants, laid out in layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The table.
    pub table: String,
    /// Every table that feeds it, parents first.
    pub ancestors: Vec<String>,
    /// Every table it feeds, parents first.
    pub descendants: Vec<String>,
    /// The nodes, by layer, then top to bottom as drawn.
    pub nodes: Vec<ReportNode>,
    /// The edges between them.
    pub edges: Vec<ReportEdge>,
}

impl Report {
    /// The report of `table` in `script` (a folder read as one script).
    pub fn build(script: &Script, table: &str) -> Result<Self, PipelineError> {
        let graph = Graph::build(script).map_err(|err| match err {
            LineageError::Cycle { tables, .. } => PipelineError::Cycle { tables },
        })?;
        if !graph.nodes.iter().any(|n| n.name == table) {
            return Err(PipelineError::UnknownTable {
                table: table.to_string(),
                known: graph.order.clone(),
            });
        }
        let reach = |up: bool| {
            let mut seen: HashSet<&str> = HashSet::new();
            let mut todo = vec![table];
            while let Some(t) = todo.pop() {
                for e in &graph.edges {
                    let (from, to) = if up {
                        (&e.to, &e.from)
                    } else {
                        (&e.from, &e.to)
                    };
                    if from == t && seen.insert(to.as_str()) {
                        todo.push(to.as_str());
                    }
                }
            }
            seen
        };
        let (up, down) = (reach(true), reach(false));
        let in_order = |set: &HashSet<&str>| -> Vec<String> {
            graph
                .order
                .iter()
                .filter(|t| set.contains(t.as_str()))
                .cloned()
                .collect()
        };
        let (ancestors, descendants) = (in_order(&up), in_order(&down));
        let member = |t: &str| t == table || up.contains(t) || down.contains(t);
        let mut edges: Vec<ReportEdge> = Vec::new();
        for e in &graph.edges {
            let edge = ReportEdge {
                from: e.from.clone(),
                to: e.to.clone(),
            };
            if member(&e.from) && member(&e.to) && !edges.contains(&edge) {
                edges.push(edge);
            }
        }
        let places = Places::of(script);
        let mut layer: HashMap<&str, usize> = HashMap::new();
        let mut nodes: Vec<ReportNode> = Vec::new();
        for name in graph.order.iter().filter(|t| member(t)) {
            let parents: Vec<String> = edges
                .iter()
                .filter(|e| &e.to == name)
                .map(|e| e.from.clone())
                .collect();
            let children = edges
                .iter()
                .filter(|e| &e.from == name)
                .map(|e| e.to.clone())
                .collect();
            let depth = parents
                .iter()
                .map(|p| layer.get(p.as_str()).map_or(0, |l| l + 1))
                .max()
                .unwrap_or(0);
            layer.insert(name, depth);
            let node = graph.nodes.iter().find(|n| &n.name == name);
            let relation = if name == table {
                Relation::Table
            } else if up.contains(name.as_str()) {
                Relation::Ancestor
            } else {
                Relation::Descendant
            };
            let (ddl, dml) = (places.ddl.get(name.as_str()), places.dml.get(name.as_str()));
            nodes.push(ReportNode {
                name: name.clone(),
                relation,
                role: node.map_or(Role::Source, |n| n.role),
                connector: node.and_then(|n| n.connector.clone()),
                layer: depth,
                stateful: dml.and_then(|&i| stateful(&script.statements[i].text)),
                ddl: ddl.map(|&i| places.place(script, i)),
                dml: dml.map(|&i| places.place(script, i)),
                parents,
                children,
                sql: [ddl, dml]
                    .into_iter()
                    .flatten()
                    .map(|&i| MaskedSource::secret_literals(&script.statements[i].text).text)
                    .collect(),
            });
        }
        order_layers(&mut nodes);
        Ok(Self {
            table: table.to_string(),
            ancestors,
            descendants,
            nodes,
            edges,
        })
    }

    /// A Mermaid flowchart, the table outlined.
    pub fn to_mermaid(&self) -> String {
        let mut chart = crate::lineage::Mermaid::default();
        for node in &self.nodes {
            chart.node(&node.name, &subtitle(node), false);
        }
        for edge in &self.edges {
            chart.edge(&edge.from, &edge.to, None);
        }
        chart.outline(&self.table);
        chart.finish()
    }

    /// One HTML page, with nothing fetched from elsewhere: the graph as SVG, then a table of
    /// the nodes with where each is declared and written, and their SQL (secrets masked).
    pub fn to_html(&self) -> String {
        let mut rows = String::new();
        for node in &self.nodes {
            let place = |p: &Option<Place>| {
                p.as_ref().map_or("—".to_string(), |p| {
                    escape(&format!("{}:{}", p.file, p.line))
                })
            };
            let _ = writeln!(
                rows,
                "<tr class=\"{relation}\"><td><b>{name}</b></td><td>{relation}</td><td>{role}</td>\
                 <td>{connector}</td><td>{state}</td><td><code>{ddl}</code></td>\
                 <td><code>{dml}</code></td></tr>",
                relation = relation_name(node.relation),
                name = escape(&node.name),
                role = role_name(node.role),
                connector = escape(node.connector.as_deref().unwrap_or("—")),
                state = match (node.stateful, &node.dml) {
                    (Some(kind), _) => format!("stateful ({})", escape(kind)),
                    (None, Some(_)) => "stateless".to_string(),
                    (None, None) => "—".to_string(),
                },
                ddl = place(&node.ddl),
                dml = place(&node.dml),
            );
        }
        let mut sql = String::new();
        for node in self.nodes.iter().filter(|n| !n.sql.is_empty()) {
            let _ = writeln!(
                sql,
                "<details{open}><summary>{name}</summary><pre>{text}</pre></details>",
                open = if node.relation == Relation::Table {
                    " open"
                } else {
                    ""
                },
                name = escape(&node.name),
                text = escape(&node.sql.join(";\n\n")),
            );
        }
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>Lineage of {title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
             <header><h1>Lineage of <span class=\"name\">{title}</span></h1>\n\
             <p>{ups} ancestor{ups_s} · {downs} descendant{downs_s} · generated by flinkit \
             {version}</p></header>\n<main>\n<section class=\"graph\">{svg}</section>\n\
             <p class=\"legend\"><span class=\"chip source\">source</span>\
             <span class=\"chip intermediate\">intermediate</span>\
             <span class=\"chip sink\">sink</span><span class=\"chip view\">view</span>\
             <span class=\"chip selected\">{title}</span></p>\n\
             <h2>Tables</h2>\n<table>\n<thead><tr><th>table</th><th>relation</th><th>role</th>\
             <th>connector</th><th>job</th><th>declared in</th><th>written by</th></tr></thead>\n\
             <tbody>\n{rows}</tbody>\n</table>\n<h2>SQL</h2>\n{sql}</main>\n</body>\n</html>\n",
            title = escape(&self.table),
            ups = self.ancestors.len(),
            ups_s = if self.ancestors.len() == 1 { "" } else { "s" },
            downs = self.descendants.len(),
            downs_s = if self.descendants.len() == 1 { "" } else { "s" },
            version = env!("CARGO_PKG_VERSION"),
            svg = self.to_svg(),
        )
    }

    /// The graph as SVG: one column per layer, left to right, edges as curves with arrows.
    pub fn to_svg(&self) -> String {
        const ROW: f64 = 74.0;
        const GAP: f64 = 90.0;
        const HEIGHT: f64 = 50.0;
        const MARGIN: f64 = 20.0;
        let layers = self.nodes.iter().map(|n| n.layer + 1).max().unwrap_or(0);
        let mut widths = vec![0.0f64; layers];
        let mut counts = vec![0usize; layers];
        for node in &self.nodes {
            widths[node.layer] = widths[node.layer].max(box_width(node));
            counts[node.layer] += 1;
        }
        let tallest = counts.iter().copied().max().unwrap_or(0) as f64;
        let mut lefts = Vec::with_capacity(layers);
        let mut x = MARGIN;
        for w in &widths {
            lefts.push(x);
            x += w + GAP;
        }
        let width = x - GAP + MARGIN;
        let height = tallest * ROW - (ROW - HEIGHT) + 2.0 * MARGIN;
        let mut slot = vec![0usize; layers];
        let mut at: HashMap<&str, (f64, f64, f64)> = HashMap::new();
        for node in &self.nodes {
            let l = node.layer;
            let top = MARGIN + (tallest - counts[l] as f64) * ROW / 2.0 + slot[l] as f64 * ROW;
            slot[l] += 1;
            at.insert(node.name.as_str(), (lefts[l], top, widths[l]));
        }
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width:.0} {height:.0}\" \
             width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"lineage of {}\">\
             <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
             markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\">\
             <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#868e96\"/></marker></defs>\n",
            escape(&self.table)
        );
        for edge in &self.edges {
            let (fx, fy, fw) = at[edge.from.as_str()];
            let (tx, ty, _) = at[edge.to.as_str()];
            let (x1, y1, x2, y2) = (fx + fw, fy + HEIGHT / 2.0, tx - 2.0, ty + HEIGHT / 2.0);
            let bend = (x2 - x1) / 2.0;
            let _ = writeln!(
                svg,
                "<path class=\"edge\" d=\"M{x1:.1},{y1:.1} C{:.1},{y1:.1} {:.1},{y2:.1} \
                 {x2:.1},{y2:.1}\" marker-end=\"url(#arrow)\"><title>{} → {}</title></path>",
                x1 + bend,
                x2 - bend,
                escape(&edge.from),
                escape(&edge.to)
            );
        }
        for node in &self.nodes {
            let (x, y, w) = at[node.name.as_str()];
            let selected = if node.relation == Relation::Table {
                " selected"
            } else {
                ""
            };
            let _ = writeln!(
                svg,
                "<g class=\"node {role}{selected}\"><title>{name}</title>\
                 <rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{HEIGHT}\" rx=\"8\"/>\
                 <text x=\"{tx:.1}\" y=\"{ny:.1}\" class=\"label\">{name}</text>\
                 <text x=\"{tx:.1}\" y=\"{sy:.1}\" class=\"sub\">{sub}</text></g>",
                role = role_name(node.role),
                name = escape(&node.name),
                tx = x + 12.0,
                ny = y + 21.0,
                sy = y + 38.0,
                sub = escape(&subtitle(node)),
            );
        }
        svg.push_str("</svg>");
        svg
    }
}

/// Where each table's DDL and DML are, by statement index.
struct Places {
    ddl: HashMap<String, usize>,
    dml: HashMap<String, usize>,
}

impl Places {
    fn of(script: &Script) -> Self {
        let mut ddl = HashMap::new();
        let mut dml = HashMap::new();
        for stmt in &script.statements {
            match &stmt.detail {
                Detail::CreateTable(t) => {
                    ddl.entry(t.name.clone()).or_insert(stmt.index);
                    if t.query_sources.is_some() {
                        dml.entry(t.name.clone()).or_insert(stmt.index);
                    }
                }
                Detail::CreateView(v) => {
                    ddl.entry(v.name.clone()).or_insert(stmt.index);
                }
                _ => {
                    for insert in stmt.inserts() {
                        dml.entry(insert.target.clone()).or_insert(stmt.index);
                    }
                }
            }
        }
        Self { ddl, dml }
    }

    fn place(&self, script: &Script, index: usize) -> Place {
        let stmt = &script.statements[index];
        Place {
            file: script.source_of(stmt).name().to_string(),
            line: stmt.line,
        }
    }
}

/// Orders each layer to shorten edges: a node goes near the mean position of its parents in
/// the layers before (the barycenter heuristic, one sweep), ties kept in deploy order.
fn order_layers(nodes: &mut Vec<ReportNode>) {
    let layers = nodes.iter().map(|n| n.layer + 1).max().unwrap_or(0);
    let mut placed: HashMap<String, f64> = HashMap::new();
    let mut ordered: Vec<ReportNode> = Vec::with_capacity(nodes.len());
    for layer in 0..layers {
        let mut this: Vec<(f64, usize, ReportNode)> = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.layer == layer)
            .map(|(i, n)| {
                let known: Vec<f64> = n
                    .parents
                    .iter()
                    .filter_map(|p| placed.get(p).copied())
                    .collect();
                let center = if known.is_empty() {
                    i as f64
                } else {
                    known.iter().sum::<f64>() / known.len() as f64
                };
                (center, i, n.clone())
            })
            .collect();
        this.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (slot, (_, _, node)) in this.into_iter().enumerate() {
            placed.insert(node.name.clone(), slot as f64);
            ordered.push(node);
        }
    }
    *nodes = ordered;
}

/// A node's second line: its connector (or role) and whether its job keeps state.
fn subtitle(node: &ReportNode) -> String {
    let what = node
        .connector
        .clone()
        .unwrap_or_else(|| role_name(node.role).to_string());
    match node.stateful {
        Some(kind) => format!("{what} · {kind}"),
        None => what,
    }
}

/// A box wide enough for the node's two lines (about 7.6 px a character at 13 px).
fn box_width(node: &ReportNode) -> f64 {
    let chars = node
        .name
        .chars()
        .count()
        .max(subtitle(node).chars().count());
    (chars as f64 * 7.6 + 24.0).max(120.0)
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Source => "source",
        Role::Sink => "sink",
        Role::Intermediate => "intermediate",
        Role::View => "view",
    }
}

fn relation_name(relation: Relation) -> &'static str {
    match relation {
        Relation::Ancestor => "ancestor",
        Relation::Table => "table",
        Relation::Descendant => "descendant",
    }
}

/// Text for HTML and SVG: the five characters with a meaning there escaped (all that is
/// needed for text and quoted attributes, so no crate for it).
pub(crate) fn escape(text: &str) -> String {
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

pub(crate) const STYLE: &str = "
:root { color-scheme: light; --ink: #212529; --muted: #6c757d; --line: #dee2e6; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
  color: var(--ink); background: #f8f9fa; }
header { padding: 20px 32px 12px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { margin: 0; font-size: 20px; font-weight: 600; }
h1 .name { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; color: #d9480f; }
header p { margin: 4px 0 0; color: var(--muted); }
main { padding: 16px 32px 40px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
.graph { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 8px;
  overflow-x: auto; }
.graph svg { display: block; max-width: none; }
.edge { fill: none; stroke: #adb5bd; stroke-width: 1.6; }
.node rect { stroke: #495057; stroke-width: 1; }
.node .label { font: 600 13px ui-monospace, SFMono-Regular, Menlo, monospace; fill: var(--ink); }
.node .sub { font: 11px system-ui, sans-serif; fill: var(--muted); }
.node.source rect { fill: #e7f5ff; } .node.intermediate rect { fill: #fff4e6; }
.node.sink rect { fill: #ebfbee; } .node.view rect { fill: #f3f0ff; }
.node.selected rect { stroke: #d9480f; stroke-width: 3; }
.legend { margin: 10px 0 0; }
.chip { display: inline-block; padding: 1px 10px; margin-right: 8px; border-radius: 10px;
  border: 1px solid #495057; font-size: 12px; }
.chip.source { background: #e7f5ff; } .chip.intermediate { background: #fff4e6; }
.chip.sink { background: #ebfbee; } .chip.view { background: #f3f0ff; }
.chip.selected { border: 2px solid #d9480f; font-family: ui-monospace, monospace; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); }
th { font-weight: 600; background: #f1f3f5; }
tr.table td { background: #fff4e6; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
details { background: #fff; border: 1px solid var(--line); border-radius: 8px; margin: 8px 0;
  padding: 6px 12px; }
summary { cursor: pointer; font-weight: 600; font-family: ui-monospace, monospace; }
pre { white-space: pre-wrap; margin: 8px 0 4px; }
";

#[cfg(test)]
mod tests {
    use super::*;

    const FOLDER: &str = "
        CREATE TABLE a (k STRING) WITH ('connector' = 'datagen');
        CREATE TABLE b (k STRING);
        CREATE TABLE mid (k STRING) WITH ('connector' = 'kafka', 'password' = 'hunter2');
        INSERT INTO mid SELECT k FROM a WHERE k <> 'x' UNION ALL SELECT k FROM b;
        CREATE TABLE fact (k STRING, n BIGINT);
        INSERT INTO fact SELECT k, COUNT(*) FROM mid GROUP BY k;
        CREATE TABLE other (k STRING);
        CREATE TABLE unrelated (k STRING);
        INSERT INTO unrelated SELECT k FROM other;
    ";

    fn report(table: &str) -> Report {
        Report::build(&Script::parse_str(FOLDER).unwrap(), table).unwrap()
    }

    #[test]
    fn a_report_holds_the_ancestors_and_descendants_only() {
        let r = report("mid");
        assert_eq!(r.ancestors, ["a", "b"]);
        assert_eq!(r.descendants, ["fact"]);
        let names: Vec<(&str, usize)> =
            r.nodes.iter().map(|n| (n.name.as_str(), n.layer)).collect();
        assert_eq!(names, [("a", 0), ("b", 0), ("mid", 1), ("fact", 2)]);
        assert_eq!(r.edges.len(), 3);
        let fact = &r.nodes[3];
        assert_eq!(fact.stateful, Some("GROUP BY"));
        assert_eq!(fact.relation, Relation::Descendant);
        assert_eq!(fact.connector, None);
        assert_eq!(fact.dml.as_ref().map(|p| p.line), Some(7));
    }

    #[test]
    fn the_page_draws_every_node_and_masks_secrets() {
        let html = report("mid").to_html();
        for name in ["a", "b", "mid", "fact"] {
            assert!(html.contains(&format!("<title>{name}</title>")), "{name}");
        }
        assert!(!html.contains("unrelated"));
        assert!(!html.contains("hunter2"));
        assert!(html.contains("<svg"));
        for fetch in ["src=", "href=", "@import", "url(http", "<script", "<link"] {
            assert!(!html.contains(fetch), "{fetch}");
        }
        assert!(html.contains("k &lt;&gt; &#39;x&#39;"));
        let mermaid = report("fact").to_mermaid();
        assert!(mermaid.starts_with("flowchart LR\n"));
        assert!(mermaid.contains("n2 --> n3"), "{mermaid}");
    }

    #[test]
    fn an_unknown_table_is_refused() {
        let err = Report::build(&Script::parse_str(FOLDER).unwrap(), "nope").unwrap_err();
        assert!(err.is_invalid_input());
        assert_eq!(err.table(), Some("nope"));
    }
}
