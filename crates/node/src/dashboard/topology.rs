//! The topology graph as SVG, laid out on the server and deterministically (the
//! same record gives the same picture): each domain is a wedge of the circle (a node
//! in no domain sits in "no domain"), and within a wedge the roles are rings — hubs
//! inside, witnesses in the middle, the others outside — so the picture reads the
//! same from 3 nodes to 200. A node in several domains is drawn in full in the first
//! that lists it, and again, dashed, in each of the others (the same link, and no
//! connection lines: those start at the full drawing).

use super::layout::{Names, role_class};
use maud::{Markup, html};
use serde_json::Value;
use std::collections::BTreeMap;
use std::f64::consts::TAU;

const SIZE: f64 = 800.0;
const CENTER: f64 = SIZE / 2.0;
/// Room left and right of the circle for the domains' labels.
const MARGIN: f64 = 150.0;
const OUTER: f64 = 340.0;
/// Least distance between neighbours on one row of a ring.
const SPACING: f64 = 16.0;
/// Distance between the rows of a crowded ring.
const ROW_STEP: f64 = 18.0;

struct Placed {
    id: String,
    name: String,
    role: &'static str,
    liveness: String,
    status: String,
    domains: Vec<String>,
    /// Drawn again, dashed, in another of its domains (`Some(that domain)`).
    also_in: Option<String>,
    x: f64,
    y: f64,
}

struct Wedge {
    name: String,
    href: Option<String>,
    from: f64,
    to: f64,
}

struct Edge {
    a: usize,
    b: usize,
    latency: Option<f64>,
}

/// A laid-out graph of a topology record.
pub(super) struct Graph {
    nodes: Vec<Placed>,
    wedges: Vec<Wedge>,
    edges: Vec<Edge>,
}

/// A wedge to draw: its name, its page, and its nodes, each with whether this is
/// the node's first domain (drawn in full) or not.
type Group<'a> = (String, Option<String>, Vec<(&'a Value, bool)>);

fn ring(role: &str) -> (usize, f64) {
    match role {
        "hub" => (0, 0.42),
        "witness" => (1, 0.68),
        _ => (2, 0.92),
    }
}

impl Graph {
    pub fn of(topo: &Value, names: &Names) -> Graph {
        let list: Vec<&Value> = topo["nodes"].as_array().into_iter().flatten().collect();
        let domains: Vec<&Value> = topo["domains"].as_array().into_iter().flatten().collect();
        let mut member_of: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for d in &domains {
            for m in d["member_nodes"].as_array().into_iter().flatten() {
                if let Some(m) = m.as_str() {
                    member_of
                        .entry(m)
                        .or_default()
                        .push(d["name"].as_str().unwrap_or("").to_owned());
                }
            }
        }
        // Groups: each domain (in the record's order) with every node it holds, each
        // marked whether this is the node's first domain (drawn in full) or not.
        let mut groups: Vec<Group> = domains
            .iter()
            .map(|d| {
                (
                    d["name"].as_str().unwrap_or("").to_owned(),
                    d["domain_id"].as_str().map(|i| format!("/domains/{i}")),
                    Vec::new(),
                )
            })
            .collect();
        groups.push(("no domain".into(), None, Vec::new()));
        let last = groups.len() - 1;
        for n in &list {
            let id = n["node_id"].as_str().unwrap_or("");
            let mut first = true;
            for (g, d) in domains.iter().enumerate() {
                if d["member_nodes"]
                    .as_array()
                    .is_some_and(|m| m.iter().any(|x| x == id))
                {
                    groups[g].2.push((n, first));
                    first = false;
                }
            }
            if first {
                groups[last].2.push((n, true));
            }
        }
        groups.retain(|g| !g.2.is_empty());
        let total: usize = groups.iter().map(|g| g.2.len()).sum();
        let mut nodes = Vec::with_capacity(total);
        let mut wedges = Vec::new();
        let mut angle = -TAU / 4.0;
        for (name, href, mut members) in groups {
            let share = TAU * members.len() as f64 / total.max(1) as f64;
            wedges.push(Wedge {
                name: name.clone(),
                href,
                from: angle,
                to: angle + share,
            });
            // By ring, the full drawings before the copies, then by id.
            members.sort_by(|(a, fa), (b, fb)| {
                let key = |v: &Value, full: bool| {
                    (
                        ring(role_class(v["node_type"].as_str().unwrap_or(""))).0,
                        !full,
                        v["node_id"].as_str().unwrap_or("").to_owned(),
                    )
                };
                key(a, *fa).cmp(&key(b, *fb))
            });
            for r in 0..3 {
                let in_ring: Vec<&(&Value, bool)> = members
                    .iter()
                    .filter(|(v, _)| ring(role_class(v["node_type"].as_str().unwrap_or(""))).0 == r)
                    .collect();
                let count = in_ring.len();
                // A crowded ring in a wedge takes several rows (at most 5, centred on
                // the ring) so that neighbours on one row stay SPACING apart.
                let radius0 = in_ring.first().map_or(OUTER, |(v, _)| {
                    ring(role_class(v["node_type"].as_str().unwrap_or(""))).1 * OUTER
                });
                let rows = (1..=5)
                    .find(|&k| {
                        let per_row = count.div_ceil(k) as f64;
                        let innermost = radius0 - ROW_STEP * (k - 1) as f64 / 2.0;
                        per_row * SPACING <= share * innermost
                    })
                    .unwrap_or(5);
                for (i, (v, full)) in in_ring.into_iter().enumerate() {
                    let id = v["node_id"].as_str().unwrap_or("").to_owned();
                    let role = role_class(v["node_type"].as_str().unwrap_or(""));
                    let radius = radius0 + ROW_STEP * ((i % rows) as f64 - (rows - 1) as f64 / 2.0);
                    // The j-th of its row, the row's nodes spread over the wedge.
                    let (row, j) = (i % rows, i / rows);
                    let in_row = (count - row).div_ceil(rows);
                    let a = angle + share * (j as f64 + 0.5) / in_row as f64;
                    nodes.push(Placed {
                        name: names.name(&id).to_owned(),
                        domains: member_of.get(id.as_str()).cloned().unwrap_or_default(),
                        also_in: (!*full).then(|| name.clone()),
                        id,
                        role,
                        liveness: v["liveness"].as_str().unwrap_or("unknown").to_owned(),
                        status: v["status"].as_str().unwrap_or("").to_owned(),
                        x: CENTER + radius * a.cos(),
                        y: CENTER + radius * a.sin(),
                    });
                }
            }
            angle += share;
        }
        // Connections join the full drawings.
        let index: BTreeMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.also_in.is_none())
            .map(|(i, n)| (n.id.as_str(), i))
            .collect();
        // One edge per pair: the lower measured latency of the two directions.
        let mut pairs: BTreeMap<(usize, usize), Option<f64>> = BTreeMap::new();
        for c in topo["connections"].as_array().into_iter().flatten() {
            let (Some(&a), Some(&b)) = (
                c["source_node_id"].as_str().and_then(|s| index.get(s)),
                c["target_node_id"].as_str().and_then(|s| index.get(s)),
            ) else {
                continue;
            };
            if a == b {
                continue;
            }
            let key = (a.min(b), a.max(b));
            let l = c["latency_ms"].as_f64();
            let e = pairs.entry(key).or_insert(l);
            if let (Some(old), Some(new)) = (*e, l) {
                *e = Some(old.min(new));
            } else if e.is_none() {
                *e = l;
            }
        }
        let edges = pairs
            .into_iter()
            .map(|((a, b), latency)| Edge { a, b, latency })
            .collect();
        Graph {
            nodes,
            wedges,
            edges,
        }
    }

    /// Nodes drawn (each once, however many domains hold it).
    pub fn node_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.also_in.is_none()).count()
    }

    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    pub fn svg(&self) -> Markup {
        let n = self.nodes.len();
        let nodes = self.node_count();
        let r = if n <= 30 {
            13.0
        } else if n <= 80 {
            9.0
        } else {
            6.0
        };
        let labels = n <= 40;
        // Latency labels only where they can be read; every edge has a tooltip.
        let edge_labels = self.edges.len() <= 12;
        let wedge_lines = self.wedges.len() > 1;
        html! {
            figure.graph {
                svg #topology viewBox=(format!("{} 0 {} {SIZE}", -MARGIN, SIZE + 2.0 * MARGIN)) role="group" aria-labelledby="topology-title" {
                    title #topology-title { "The mesh: " (nodes) " nodes, " (self.edges.len()) " measured connections" }
                    g.wedges {
                        @for w in &self.wedges {
                            // A whole circle is labelled at the top, a wedge at its middle.
                            @let mid = if w.to - w.from >= TAU - 1e-9 { -TAU / 4.0 } else { (w.from + w.to) / 2.0 };
                            @let lx = CENTER + (OUTER + 22.0) * mid.cos();
                            @let ly = CENTER + (OUTER + 22.0) * mid.sin() + 5.0;
                            @let anchor = if mid.cos() < -0.3 { "end" } else if mid.cos() > 0.3 { "start" } else { "middle" };
                            path.wedge d=(wedge_path(w.from, w.to)) {}
                            @if wedge_lines {
                                line.wedge-edge x1=(f(CENTER)) y1=(f(CENTER)) x2=(f(CENTER + (OUTER + 12.0) * w.from.cos())) y2=(f(CENTER + (OUTER + 12.0) * w.from.sin())) {}
                            }
                            @match &w.href {
                                Some(h) => { a href=(h) { text.wedge-label x=(f(lx)) y=(f(ly)) text-anchor=(anchor) { (w.name) } } }
                                None => { text.wedge-label x=(f(lx)) y=(f(ly)) text-anchor=(anchor) { (w.name) } }
                            }
                        }
                    }
                    g.edges {
                        @for e in &self.edges {
                            @let (a, b) = (&self.nodes[e.a], &self.nodes[e.b]);
                            @let class = match e.latency { Some(l) if l < 5.0 => "fast", Some(l) if l < 50.0 => "slow", Some(_) => "slower", None => "unmeasured" };
                            line.edge.(class) x1=(f(a.x)) y1=(f(a.y)) x2=(f(b.x)) y2=(f(b.y)) {
                                title { (a.name) " — " (b.name) @if let Some(l) = e.latency { ": " (format!("{l:.1} ms")) } }
                            }
                            @if edge_labels {
                                @if let Some(l) = e.latency {
                                    text.latency x=(f((a.x + b.x) / 2.0)) y=(f((a.y + b.y) / 2.0 - 3.0)) text-anchor="middle" { (format!("{l:.1} ms")) }
                                }
                            }
                        }
                    }
                    g.nodes {
                        @for p in self.nodes.iter().filter(|p| p.also_in.is_some()) {
                            a.node-link.also href={ "/nodes/" (p.id) } data-also=(p.id) {
                                circle.(p.role).(p.liveness.as_str()).also cx=(f(p.x)) cy=(f(p.y)) r=(r) {}
                                title {
                                    (p.name) " · " (p.role) " · " (p.liveness) " · also in " (p.also_in.as_deref().unwrap_or(""))
                                    " · domains: " (p.domains.join(", ")) " (drawn in full in " (p.domains.first().map_or("", String::as_str)) ")"
                                }
                                @if labels {
                                    text.node-label.also x=(f(p.x)) y=(f(p.y + r + 13.0)) text-anchor="middle" { (p.name) }
                                }
                            }
                        }
                        @for p in self.nodes.iter().filter(|p| p.also_in.is_none()) {
                            a.node-link href={ "/nodes/" (p.id) } data-node=(p.id) {
                                circle.(p.role).(p.liveness.as_str()) cx=(f(p.x)) cy=(f(p.y)) r=(r) {}
                                title {
                                    (p.name) " · " (p.role) " · " (p.liveness) " · " (p.status)
                                    @if !p.domains.is_empty() { " · domains: " (p.domains.join(", ")) }
                                }
                                @if labels {
                                    text.node-label x=(f(p.x)) y=(f(p.y + r + 13.0)) text-anchor="middle" { (p.name) }
                                }
                            }
                        }
                    }
                }
                figcaption { "Hubs on the inner ring, witnesses in the middle, other nodes outside; each wedge is a domain, and a node in several domains is drawn again, dashed, in each after its first. The ring around a node is its liveness; a line is a measured connection (hover for its latency). Select a node to open its page." }
            }
        }
    }
}

fn f(v: f64) -> String {
    format!("{v:.1}")
}

/// An annular sector from angle `a0` to `a1` between the inner and outer radius.
fn wedge_path(a0: f64, a1: f64) -> String {
    let (ri, ro) = (OUTER * 0.25, OUTER + 14.0);
    let pt = |r: f64, a: f64| (CENTER + r * a.cos(), CENTER + r * a.sin());
    if a1 - a0 >= TAU - 1e-9 {
        // The whole circle: two half arcs each way.
        return format!(
            "M {x0:.1} {y:.1} A {ro} {ro} 0 1 1 {x1:.1} {y:.1} A {ro} {ro} 0 1 1 {x0:.1} {y:.1} Z \
             M {i0:.1} {y:.1} A {ri} {ri} 0 1 0 {i1:.1} {y:.1} A {ri} {ri} 0 1 0 {i0:.1} {y:.1} Z",
            x0 = CENTER - ro,
            x1 = CENTER + ro,
            i0 = CENTER - ri,
            i1 = CENTER + ri,
            y = CENTER,
        );
    }
    let large = u8::from(a1 - a0 > TAU / 2.0);
    let (o0, o1, i1, i0) = (pt(ro, a0), pt(ro, a1), pt(ri, a1), pt(ri, a0));
    format!(
        "M {:.1} {:.1} A {ro} {ro} 0 {large} 1 {:.1} {:.1} L {:.1} {:.1} A {ri} {ri} 0 {large} 0 {:.1} {:.1} Z",
        o0.0, o0.1, o1.0, o1.1, i1.0, i1.1, i0.0, i0.1
    )
}

/// What the colours mean.
pub(super) fn legend() -> Markup {
    html! {
        ul.legend aria-label="Legend" {
            li { span.sw.hub {} "governance hub" }
            li { span.sw.witness {} "compliance witness" }
            li { span.sw.fork {} "trust fork" }
            li { span.sw.ring.reachable {} "reachable" }
            li { span.sw.ring.suspect {} "suspect" }
            li { span.sw.ring.unreachable {} "unreachable" }
            li { span.sw.ring.unknown {} "not heard of" }
            li { span.sw.also {} "also in this domain (drawn in full in its first)" }
            li { span.sw.line.fast {} "< 5 ms" }
            li { span.sw.line.slow {} "5–50 ms" }
            li { span.sw.line.slower {} "≥ 50 ms" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(n: usize, domains: usize) -> Value {
        let roles = ["governance_hub", "compliance_witness", "trust_fork"];
        let nodes: Vec<Value> = (0..n)
            .map(|i| {
                json!({"node_id": format!("{i:08}-node"), "node_type": roles[i % 3],
                       "status": "active", "liveness": "reachable"})
            })
            .collect();
        let ds: Vec<Value> = (0..domains)
            .map(|d| {
                let members: Vec<String> = (0..n)
                    .filter(|i| i % (domains + 1) == d)
                    .map(|i| format!("{i:08}-node"))
                    .collect();
                json!({"domain_id": format!("d{d}"), "name": format!("domain {d}"), "member_nodes": members})
            })
            .collect();
        let conns: Vec<Value> = (0..n)
            .map(|i| json!({"source_node_id": format!("{i:08}-node"), "target_node_id": format!("{:08}-node", (i + 1) % n), "latency_ms": 1.5}))
            .collect();
        json!({"nodes": nodes, "domains": ds, "connections": conns})
    }

    /// A node in two domains is drawn in full in the first and dashed in the second,
    /// inside each one's wedge; connections start at the full drawing; the page still
    /// counts it once.
    #[test]
    fn a_node_in_two_domains_is_drawn_in_both() {
        let names = Names::of(&[]);
        let mut topo = record(6, 2);
        // Node 0 is in domain 0; add it to domain 1 too.
        topo["domains"][1]["member_nodes"]
            .as_array_mut()
            .unwrap()
            .push(json!("00000000-node"));
        let g = Graph::of(&topo, &names);
        assert_eq!(g.node_count(), 6);
        let drawn: Vec<&Placed> = g.nodes.iter().filter(|p| p.id == "00000000-node").collect();
        assert_eq!(drawn.len(), 2, "drawn once per domain");
        let (full, copy) = (drawn[0], drawn[1]);
        assert_eq!(full.also_in, None);
        assert_eq!(copy.also_in.as_deref(), Some("domain 1"));
        assert_eq!(full.domains, ["domain 0", "domain 1"]);
        // Each inside its own domain's wedge.
        let wedge = |name: &str| g.wedges.iter().find(|w| w.name == name).unwrap();
        let inside = |p: &Placed, w: &Wedge| {
            let mut a = (p.y - CENTER).atan2(p.x - CENTER);
            while a < w.from {
                a += TAU;
            }
            a <= w.to
        };
        assert!(inside(full, wedge("domain 0")));
        assert!(inside(copy, wedge("domain 1")));
        assert!(!inside(copy, wedge("domain 0")));
        // Every edge joins full drawings.
        for e in &g.edges {
            assert!(g.nodes[e.a].also_in.is_none() && g.nodes[e.b].also_in.is_none());
        }
        let svg = g.svg().into_string();
        assert_eq!(svg.matches(r#"data-node="00000000-node""#).count(), 1);
        assert_eq!(svg.matches(r#"data-also="00000000-node""#).count(), 1);
        assert!(svg.contains("also in domain 1"), "{svg}");
        // At 200 nodes with every seventh in a second domain, the copies keep apart.
        let mut topo = record(200, 5);
        for i in (0..200).step_by(7) {
            let d = (i % 6 + 1) % 5;
            topo["domains"][d]["member_nodes"]
                .as_array_mut()
                .unwrap()
                .push(json!(format!("{i:08}-node")));
        }
        let g = Graph::of(&topo, &names);
        assert_eq!(g.node_count(), 200);
        assert!(g.nodes.len() > 200);
        for (i, a) in g.nodes.iter().enumerate() {
            assert!(a.x > 0.0 && a.x < SIZE && a.y > 0.0 && a.y < SIZE);
            for b in &g.nodes[i + 1..] {
                let d = (a.x - b.x).hypot(a.y - b.y);
                assert!(d > 12.0, "{} and {} are {d:.1} apart", a.id, b.id);
            }
        }
    }

    /// Every node is placed inside the picture, no two on the same spot, and the
    /// layout is the same each time.
    #[test]
    fn layout_places_every_node_apart_from_3_to_200() {
        let names = Names::of(&[]);
        for (n, d) in [(3, 0), (8, 1), (40, 3), (200, 5)] {
            let g = Graph::of(&record(n, d), &names);
            assert_eq!(g.node_count(), n);
            assert_eq!(g.edge_count(), n);
            for p in &g.nodes {
                assert!(
                    p.x > 0.0 && p.x < SIZE && p.y > 0.0 && p.y < SIZE,
                    "{n}: {}",
                    p.id
                );
            }
            let min = g
                .nodes
                .iter()
                .enumerate()
                .flat_map(|(i, a)| {
                    g.nodes[i + 1..]
                        .iter()
                        .map(move |b| (a.x - b.x).hypot(a.y - b.y))
                })
                .fold(f64::INFINITY, f64::min);
            // Circles are at most 13 px in radius, 6 px from 81 nodes on.
            let r = if n <= 80 { 13.0 } else { 6.0 };
            assert!(min > 2.0 * r, "{n} nodes: two are {min:.1} apart");
            let again = Graph::of(&record(n, d), &names);
            assert_eq!(g.svg().into_string(), again.svg().into_string());
        }
    }
}
