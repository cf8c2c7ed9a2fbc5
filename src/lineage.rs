//! The table graph of a script: tables and views as nodes (with their connector and role),
//! INSERT / VIEW / CREATE TABLE AS edges, the parents-first deploy order, and renderings as a
//! text tree, JSON, Graphviz dot and Mermaid.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::sql::{Detail, Script};

/// A node's place in the data flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Only read (or not used at all).
    Source,
    /// Only written.
    Sink,
    /// Written and read.
    Intermediate,
    /// A view.
    View,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Sink => "sink",
            Self::Intermediate => "intermediate",
            Self::View => "view",
        }
    }
}

/// A table or view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// The name as written (qualified names joined by dots).
    pub name: String,
    /// The `'connector'` option (inherited through `LIKE`), if the script declares the table.
    pub connector: Option<String>,
    /// Its role in the data flow.
    pub role: Role,
}

/// Data flowing from one node to another through a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// The table read.
    pub from: String,
    /// The table written (or the view defined).
    pub to: String,
    /// Index of the statement that makes the edge.
    pub statement: usize,
}

/// The table graph of a script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Graph {
    /// Every table and view, in first-appearance order.
    pub nodes: Vec<Node>,
    /// Every edge, in statement order.
    pub edges: Vec<Edge>,
    /// A deploy order: every node after all of its parents (ties in first-appearance order).
    pub order: Vec<String>,
}

/// Why no graph could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineageError {
    /// The tables feed each other in a loop.
    #[error("the tables form a cycle: {}", cycle_text(.tables))]
    Cycle {
        /// The tables along the cycle, the first repeated at the end.
        tables: Vec<String>,
        /// The statement that closes the cycle.
        statement: usize,
    },
}

impl Graph {
    /// Builds the graph of `script`.
    pub fn build(script: &Script) -> Result<Self, LineageError> {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut nodes: Vec<Node> = Vec::new();
        let mut declared: Declared = HashMap::new();
        let tables = script.tables();
        let mut views = BTreeSet::new();
        let mut edges = Vec::new();
        let mut node = |name: &str, nodes: &mut Vec<Node>| -> usize {
            *index.entry(name.to_string()).or_insert_with(|| {
                nodes.push(Node {
                    name: name.to_string(),
                    connector: None,
                    role: Role::Source,
                });
                nodes.len() - 1
            })
        };
        for stmt in &script.statements {
            match &stmt.detail {
                Detail::CreateTable(table) => {
                    node(&table.name, &mut nodes);
                    let parent = table
                        .like
                        .as_ref()
                        .filter(|like| like.inherits_options())
                        .map(|like| like.table.clone());
                    // Flink keeps the declaration `Script::tables` keeps (the first, unless replaced).
                    if tables
                        .get(&table.name)
                        .is_some_and(|(kept, _)| kept.index == stmt.index)
                    {
                        declared.insert(
                            table.name.clone(),
                            (table.connector().map(str::to_string), parent),
                        );
                    }
                    for source in table.query_sources.iter().flatten() {
                        node(source, &mut nodes);
                        edges.push((source.clone(), table.name.clone(), stmt.index));
                    }
                }
                Detail::CreateView(view) => {
                    let id = node(&view.name, &mut nodes);
                    views.insert(id);
                    for source in &view.sources {
                        node(source, &mut nodes);
                        edges.push((source.clone(), view.name.clone(), stmt.index));
                    }
                }
                _ => {
                    for insert in stmt.inserts() {
                        for source in &insert.sources {
                            node(source, &mut nodes);
                        }
                        node(&insert.target, &mut nodes);
                        for source in &insert.sources {
                            edges.push((source.clone(), insert.target.clone(), stmt.index));
                        }
                    }
                }
            }
        }
        let id_of = |name: &str| index[name];
        for node in &mut nodes {
            node.connector = connector_of(&node.name, &declared, 0);
        }
        let mut parents = vec![Vec::new(); nodes.len()];
        let mut children = vec![Vec::new(); nodes.len()];
        // A table that reads itself (`INSERT INTO t SELECT … FROM t`, which Flink runs) is
        // written and read, but orders after nothing new: its edge stays out of the ordering.
        let mut reads_itself = vec![false; nodes.len()];
        for (from, to, statement) in &edges {
            let (f, t) = (id_of(from), id_of(to));
            if f == t {
                reads_itself[f] = true;
                continue;
            }
            parents[t].push((f, *statement));
            children[f].push(t);
        }
        for (id, node) in nodes.iter_mut().enumerate() {
            node.role = match (
                views.contains(&id),
                parents[id].is_empty() && !reads_itself[id],
                children[id].is_empty() && !reads_itself[id],
            ) {
                (true, _, _) => Role::View,
                (false, false, false) => Role::Intermediate,
                (false, false, true) => Role::Sink,
                (false, true, _) => Role::Source,
            };
        }
        let order = topological_order(&parents, &children)
            .map_err(|cycle| {
                let statement = parents[cycle[0]]
                    .iter()
                    .find(|(p, _)| *p == cycle[cycle.len() - 2])
                    .map_or(0, |(_, s)| *s);
                LineageError::Cycle {
                    tables: cycle.iter().map(|&i| nodes[i].name.clone()).collect(),
                    statement,
                }
            })?
            .into_iter()
            .map(|i| nodes[i].name.clone())
            .collect();
        let edges = edges
            .into_iter()
            .map(|(from, to, statement)| Edge {
                from,
                to,
                statement,
            })
            .collect();
        Ok(Self {
            nodes,
            edges,
            order,
        })
    }

    /// The graph as the contract's JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// A text tree: each root, then what it feeds, indented; then the deploy order.
    pub fn to_text(&self) -> String {
        let index: HashMap<&str, usize> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        let mut children: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.nodes.len()];
        let mut has_parent = vec![false; self.nodes.len()];
        let mut drawn = HashSet::new();
        for edge in &self.edges {
            let (f, t) = (index[edge.from.as_str()], index[edge.to.as_str()]);
            if f == t {
                continue;
            }
            if drawn.insert((f, t)) {
                children[f].push((t, edge.statement));
            }
            has_parent[t] = true;
        }
        let mut out = String::new();
        let mut shown = vec![false; self.nodes.len()];
        for root in (0..self.nodes.len()).filter(|&i| !has_parent[i]) {
            self.tree(root, &children, &mut shown, &mut out);
        }
        let _ = writeln!(out, "\ndeploy order: {}", self.order.join(", "));
        out
    }

    /// Writes the tree below `root`, depth first with an explicit stack (a chain of 20,000
    /// INSERTs is 20,000 levels deep). Indentation stops growing at [`MAX_INDENT`] levels so the
    /// text stays linear in the number of nodes; deeper lines say their level.
    fn tree(
        &self,
        root: usize,
        children: &[Vec<(usize, usize)>],
        shown: &mut [bool],
        out: &mut String,
    ) {
        struct Frame {
            id: usize,
            statement: Option<usize>,
            first: String,
            rest: String,
            level: usize,
        }
        let mut stack = vec![Frame {
            id: root,
            statement: None,
            first: String::new(),
            rest: String::new(),
            level: 0,
        }];
        while let Some(frame) = stack.pop() {
            let id = frame.id;
            let node = &self.nodes[id];
            let what = match (node.role, node.connector.as_deref()) {
                (Role::View, _) => "view".to_string(),
                (role, Some(connector)) => format!("{connector}, {}", role.as_str()),
                (role, None) => format!("undeclared, {}", role.as_str()),
            };
            let via = frame
                .statement
                .map_or(String::new(), |s| format!("  [statement {s}]"));
            let again = if shown[id] && !children[id].is_empty() {
                "  (see above)"
            } else {
                ""
            };
            let level = if frame.level > MAX_INDENT {
                format!("  (level {})", frame.level)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "{}{} ({what}){via}{again}{level}",
                frame.first, node.name
            );
            if shown[id] {
                continue;
            }
            shown[id] = true;
            let count = children[id].len();
            for (k, &(child, stmt)) in children[id].iter().enumerate().rev() {
                let (branch, cont) = if k + 1 == count {
                    ("└─ ", "   ")
                } else {
                    ("├─ ", "│  ")
                };
                let (first, rest) = if frame.level < MAX_INDENT {
                    (
                        format!("{}{branch}", frame.rest),
                        format!("{}{cont}", frame.rest),
                    )
                } else {
                    (frame.first.clone(), frame.rest.clone())
                };
                stack.push(Frame {
                    id: child,
                    statement: Some(stmt),
                    first,
                    rest,
                    level: frame.level + 1,
                });
            }
        }
    }

    /// A Graphviz `digraph`.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph flinkit {\n  rankdir=LR;\n  node [shape=box];\n");
        for node in &self.nodes {
            let shape = if node.role == Role::View {
                " style=dashed"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  {} [label={}{shape}];",
                dot_quote(&node.name),
                dot_quote(&format!(
                    "{}\n{}",
                    node.name,
                    node.connector.as_deref().unwrap_or(node.role.as_str())
                ))
            );
        }
        for edge in &self.edges {
            let _ = writeln!(
                out,
                "  {} -> {} [label=\"#{}\"];",
                dot_quote(&edge.from),
                dot_quote(&edge.to),
                edge.statement
            );
        }
        out.push_str("}\n");
        out
    }

    /// A Mermaid `flowchart`.
    pub fn to_mermaid(&self) -> String {
        let mut chart = Mermaid::default();
        for node in &self.nodes {
            let subtitle = node.connector.as_deref().unwrap_or(node.role.as_str());
            chart.node(&node.name, subtitle, node.role == Role::View);
        }
        for edge in &self.edges {
            chart.edge(&edge.from, &edge.to, Some(&format!("#{}", edge.statement)));
        }
        chart.finish()
    }
}

/// A Mermaid `flowchart LR` being written; nodes are numbered in the order they are added
/// (names need no escaping that way), and edges refer to them by name.
#[derive(Default)]
pub(crate) struct Mermaid {
    out: String,
    ids: HashMap<String, usize>,
}

impl Mermaid {
    /// A node labelled with its name over `subtitle`; `rounded` for a view.
    pub(crate) fn node(&mut self, name: &str, subtitle: &str, rounded: bool) {
        let i = self.ids.len();
        self.ids.insert(name.to_string(), i);
        let label = format!("{name}<br/>{subtitle}").replace('"', "#quot;");
        let (open, close) = if rounded {
            ("([\"", "\"])")
        } else {
            ("[\"", "\"]")
        };
        let _ = writeln!(self.out, "  n{i}{open}{label}{close}");
    }

    /// An arrow between two nodes added before, with an optional label.
    pub(crate) fn edge(&mut self, from: &str, to: &str, label: Option<&str>) {
        if let (Some(from), Some(to)) = (self.ids.get(from), self.ids.get(to)) {
            let label = label.map_or(String::new(), |l| format!("|{l}|"));
            let _ = writeln!(self.out, "  n{from} -->{label} n{to}");
        }
    }

    /// Draws a node added before with a thick outline.
    pub(crate) fn outline(&mut self, name: &str) {
        if let Some(i) = self.ids.get(name) {
            let _ = writeln!(self.out, "  style n{i} stroke:#d9480f,stroke-width:3px");
        }
    }

    /// The chart's text.
    pub(crate) fn finish(self) -> String {
        format!("flowchart LR\n{}", self.out)
    }
}

/// A cycle for a message: every table of a short one; the ends of a long one.
fn cycle_text(tables: &[String]) -> String {
    const SHOWN: usize = 12;
    if tables.len() <= SHOWN {
        return tables.join(" → ");
    }
    format!(
        "{} → … ({} more) … → {}",
        tables[..SHOWN / 2].join(" → "),
        tables.len() - SHOWN,
        tables[tables.len() - SHOWN / 2..].join(" → ")
    )
}

/// How many levels the text tree indents; deeper levels print at this indentation.
const MAX_INDENT: usize = 32;

/// Declared tables: own `'connector'` and the `LIKE` parent whose options they inherit.
type Declared = HashMap<String, (Option<String>, Option<String>)>;

/// The table's connector, following `LIKE` parents that pass their options on.
fn connector_of(name: &str, declared: &Declared, depth: usize) -> Option<String> {
    let (own, parent) = declared.get(name)?;
    match (own, parent) {
        (Some(own), _) => Some(own.clone()),
        (None, Some(parent)) if depth < 32 => connector_of(parent, declared, depth + 1),
        _ => None,
    }
}

fn dot_quote(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}

/// Kahn's algorithm, smallest first-appearance index first; on a cycle, the cycle's nodes with
/// the first repeated at the end.
fn topological_order(
    parents: &[Vec<(usize, usize)>],
    children: &[Vec<usize>],
) -> Result<Vec<usize>, Vec<usize>> {
    let mut pending: Vec<usize> = parents.iter().map(Vec::len).collect();
    let mut ready: BTreeSet<usize> = (0..parents.len()).filter(|&i| pending[i] == 0).collect();
    let mut order = Vec::with_capacity(parents.len());
    while let Some(id) = ready.pop_first() {
        order.push(id);
        for &child in &children[id] {
            pending[child] -= 1;
            if pending[child] == 0 {
                ready.insert(child);
            }
        }
    }
    if order.len() == parents.len() {
        return Ok(order);
    }
    let start = (0..parents.len())
        .find(|&i| pending[i] > 0)
        .unwrap_or_default();
    let mut path = vec![start];
    let mut on_path: HashMap<usize, usize> = HashMap::from([(start, 0)]);
    let mut at = start;
    loop {
        at = parents[at]
            .iter()
            .map(|&(p, _)| p)
            .find(|&p| pending[p] > 0)
            .unwrap_or(start);
        if let Some(&pos) = on_path.get(&at) {
            let mut cycle: Vec<usize> = path[pos..].to_vec();
            cycle.reverse();
            let first = cycle.iter().position(|&n| n == at).unwrap_or_default();
            cycle.rotate_left(first);
            cycle.push(cycle[0]);
            return Err(cycle);
        }
        on_path.insert(at, path.len());
        path.push(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(sql: &str) -> Result<Graph, LineageError> {
        Graph::build(&Script::parse_str(sql).unwrap())
    }

    #[test]
    fn roles_connectors_and_order() {
        let g = graph(
            "CREATE TABLE out (a INT) WITH ('connector' = 'print');
             CREATE TABLE mid (a INT) WITH ('connector' = 'kafka');
             CREATE TABLE src (a INT) WITH ('connector' = 'datagen');
             CREATE TABLE copy WITH ('topic' = 'x') LIKE mid;
             CREATE TABLE ext WITH ('topic' = 'y') LIKE catalog_table;
             CREATE VIEW v AS SELECT a FROM src;
             INSERT INTO out SELECT a FROM mid;
             INSERT INTO mid SELECT a FROM v;",
        )
        .unwrap();
        let roles: Vec<_> = g
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.connector.as_deref(), n.role))
            .collect();
        assert_eq!(
            roles,
            [
                ("out", Some("print"), Role::Sink),
                ("mid", Some("kafka"), Role::Intermediate),
                ("src", Some("datagen"), Role::Source),
                ("copy", Some("kafka"), Role::Source),
                ("ext", None, Role::Source),
                ("v", None, Role::View),
            ]
        );
        assert_eq!(g.order, ["src", "copy", "ext", "v", "mid", "out"]);
        assert_eq!(g.edges.len(), 3);
        assert_eq!(g.edges[1].statement, 6);
    }

    #[test]
    fn cycles_are_named() {
        let err = graph(
            "INSERT INTO b SELECT * FROM a; INSERT INTO c SELECT * FROM b; INSERT INTO a SELECT * FROM c;",
        )
        .unwrap_err();
        assert!(err.to_string().ends_with("a → b → c → a"), "{err}");
        let LineageError::Cycle { tables, statement } = err;
        assert_eq!(tables, ["a", "b", "c", "a"]);
        let ring: String = (0..1000)
            .map(|i| format!("INSERT INTO t{} SELECT * FROM t{i};", (i + 1) % 1000))
            .collect();
        let message = graph(&ring).unwrap_err().to_string();
        assert!(message.contains(" → … (989 more) … → "), "{message}");
        assert_eq!(statement, 2, "the INSERT INTO a closes the loop");
    }

    #[test]
    fn a_table_may_read_itself() {
        let g = graph("INSERT INTO t SELECT * FROM t WHERE x > 0; INSERT INTO u SELECT * FROM t")
            .unwrap();
        assert_eq!(g.order, ["t", "u"]);
        assert_eq!(g.edges.len(), 2);
        assert_eq!(g.nodes[0].role, Role::Intermediate);
        assert!(
            g.to_text()
                .starts_with("t (undeclared, intermediate)\n└─ u")
        );
    }

    #[test]
    fn a_deep_chain_renders_without_recursion() {
        let sql: String = (1..20_000)
            .map(|i| format!("INSERT INTO t{i} SELECT * FROM t{};\n", i - 1))
            .collect();
        let g = graph(&sql).unwrap();
        let text = g.to_text();
        assert_eq!(text.lines().count(), 20_000 + 2);
        assert!(text.len() < 20_000 * 200, "{}", text.len());
        assert!(text.contains("t19999 (undeclared, sink)  [statement 19998]  (level 19999)"));
    }

    #[test]
    fn renderings() {
        let g = graph(
            "CREATE TABLE s (a INT) WITH ('connector' = 'datagen');
             INSERT INTO x SELECT * FROM s; INSERT INTO y SELECT * FROM s;
             INSERT INTO z SELECT * FROM x JOIN y ON TRUE;",
        )
        .unwrap();
        let text = g.to_text();
        assert!(
            text.starts_with(
                "s (datagen, source)\n├─ x (undeclared, intermediate)  [statement 1]\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("(see above)") || text.matches("z (").count() == 2,
            "{text}"
        );
        assert!(text.ends_with("deploy order: s, x, y, z\n"), "{text}");
        assert!(g.to_dot().contains("\"x\" -> \"z\" [label=\"#3\"];"));
        assert!(g.to_mermaid().contains("n1 -->|#3| n3"));
    }
}
