//! The DAG drawing: a pure layered layout (Sugiyama's first two steps, without dummy nodes).
//!
//! Each task's layer is the length of the longest path from a root to it, so every edge points
//! right. Within a layer, tasks are ordered by the barycenter (mean position) of their parents,
//! which removes the crossings a careless order adds; ties keep the definition's order. Then
//! every node gets fixed pixel coordinates, and the picture its fixed size, so a page never
//! shifts when states change.

/// Width of a node box, in pixels.
pub const NODE_WIDTH: u32 = 150;
/// Height of a node box.
pub const NODE_HEIGHT: u32 = 30;
const LAYER_GAP: u32 = 50;
const ROW_GAP: u32 = 14;
const MARGIN: u32 = 8;

/// A task to lay out: its name and the names of the tasks it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vertex {
    pub name: String,
    pub needs: Vec<String>,
}

/// A placed node: its layer, its position within the layer, and its box's top-left corner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub layer: usize,
    pub row: usize,
    pub x: u32,
    pub y: u32,
}

/// An edge from `from`'s right side to `to`'s left side, as node indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
}

/// The whole picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// In the input's order.
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub width: u32,
    pub height: u32,
}

impl Layout {
    /// The SVG path of an edge: a cubic curve between the two boxes.
    pub fn edge_path(&self, edge: Edge) -> String {
        let (from, to) = (&self.nodes[edge.from], &self.nodes[edge.to]);
        let (x1, y1) = (from.x + NODE_WIDTH, from.y + NODE_HEIGHT / 2);
        let (x2, y2) = (to.x, to.y + NODE_HEIGHT / 2);
        let middle = (x1 + x2) / 2;
        format!("M{x1},{y1} C{middle},{y1} {middle},{y2} {x2},{y2}")
    }

    /// How many pairs of edges cross (edges between the same two layers, counted by their
    /// rows; used by tests and to compare orders).
    pub fn crossings(&self) -> usize {
        let mut count = 0;
        for (index, first) in self.edges.iter().enumerate() {
            for second in &self.edges[index + 1..] {
                let (a1, a2) = (&self.nodes[first.from], &self.nodes[first.to]);
                let (b1, b2) = (&self.nodes[second.from], &self.nodes[second.to]);
                let same_layers = a1.layer == b1.layer && a2.layer == b2.layer;
                let crossed =
                    (a1.row < b1.row && a2.row > b2.row) || (a1.row > b1.row && a2.row < b2.row);
                if same_layers && crossed {
                    count += 1;
                }
            }
        }
        count
    }
}

/// Lays out `vertices`, given in a topological order (every task after the tasks it needs, as
/// the API lists them). Unknown names in `needs` are ignored.
pub fn layout(vertices: &[Vertex]) -> Layout {
    let index_of = |name: &str| vertices.iter().position(|vertex| vertex.name == name);
    let parents: Vec<Vec<usize>> = vertices
        .iter()
        .map(|vertex| {
            vertex
                .needs
                .iter()
                .filter_map(|need| index_of(need))
                .collect()
        })
        .collect();
    let mut layer_of = vec![0usize; vertices.len()];
    for (index, needs) in parents.iter().enumerate() {
        layer_of[index] = needs
            .iter()
            .map(|&parent| layer_of[parent] + 1)
            .max()
            .unwrap_or(0);
    }
    let layer_count = layer_of.iter().max().map_or(0, |top| top + 1);
    let mut row_of = vec![0usize; vertices.len()];
    let mut layers: Vec<Vec<usize>> = Vec::with_capacity(layer_count);
    for layer in 0..layer_count {
        let mut members: Vec<usize> = (0..vertices.len())
            .filter(|&index| layer_of[index] == layer)
            .collect();
        let barycenter = |index: usize| -> f64 {
            let needs = &parents[index];
            if needs.is_empty() {
                return index as f64;
            }
            needs
                .iter()
                .map(|&parent| row_of[parent] as f64)
                .sum::<f64>()
                / needs.len() as f64
        };
        if layer > 0 {
            // stable: equal barycenters keep the definition's order
            members.sort_by(|&a, &b| barycenter(a).total_cmp(&barycenter(b)));
        }
        for (row, &index) in members.iter().enumerate() {
            row_of[index] = row;
        }
        layers.push(members);
    }
    let tallest = layers.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let nodes = vertices
        .iter()
        .enumerate()
        .map(|(index, vertex)| Node {
            name: vertex.name.clone(),
            layer: layer_of[index],
            row: row_of[index],
            x: MARGIN + layer_of[index] as u32 * (NODE_WIDTH + LAYER_GAP),
            y: MARGIN + row_of[index] as u32 * (NODE_HEIGHT + ROW_GAP),
        })
        .collect();
    let edges = parents
        .iter()
        .enumerate()
        .flat_map(|(to, needs)| needs.iter().map(move |&from| Edge { from, to }))
        .collect();
    let width = 2 * MARGIN + (layer_count as u32).max(1) * (NODE_WIDTH + LAYER_GAP) - LAYER_GAP;
    let height = 2 * MARGIN + tallest.max(1) * (NODE_HEIGHT + ROW_GAP) - ROW_GAP;
    Layout {
        nodes,
        edges,
        width,
        height,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vertex(name: &str, needs: &[&str]) -> Vertex {
        Vertex {
            name: name.to_owned(),
            needs: needs.iter().map(|need| (*need).to_owned()).collect(),
        }
    }

    fn placement(layout: &Layout) -> Vec<(String, usize, usize)> {
        layout
            .nodes
            .iter()
            .map(|node| (node.name.clone(), node.layer, node.row))
            .collect()
    }

    #[test]
    fn layers_follow_the_longest_path() {
        // a → b → c and a → c: c sits after b, not beside it
        let layout = layout(&[
            vertex("a", &[]),
            vertex("b", &["a"]),
            vertex("c", &["a", "b"]),
        ]);
        assert_eq!(
            placement(&layout),
            [("a".into(), 0, 0), ("b".into(), 1, 0), ("c".into(), 2, 0)]
        );
        assert_eq!(layout.edges.len(), 3);
    }

    #[test]
    fn children_are_ordered_under_their_parents() {
        // defined in the crossing order: y needs b, x needs a
        let vertices = [
            vertex("a", &[]),
            vertex("b", &[]),
            vertex("y", &["b"]),
            vertex("x", &["a"]),
            vertex("z", &["y", "x"]),
        ];
        let layout = layout(&vertices);
        assert_eq!(layout.crossings(), 0);
        assert_eq!(
            placement(&layout),
            [
                ("a".into(), 0, 0),
                ("b".into(), 0, 1),
                ("y".into(), 1, 1),
                ("x".into(), 1, 0),
                ("z".into(), 2, 0),
            ]
        );
    }

    #[test]
    fn a_wide_fan_keeps_its_order_and_a_fixed_size() {
        let mut vertices = vec![vertex("start", &[])];
        for index in 0..5 {
            vertices.push(vertex(&format!("t{index}"), &["start"]));
        }
        vertices.push(vertex("end", &["t0", "t1", "t2", "t3", "t4"]));
        let layout = layout(&vertices);
        assert_eq!(layout.crossings(), 0);
        let rows: Vec<usize> = layout.nodes[1..6].iter().map(|node| node.row).collect();
        assert_eq!(rows, [0, 1, 2, 3, 4]);
        assert_eq!(layout.width, 2 * 8 + 3 * (NODE_WIDTH + 50) - 50);
        assert_eq!(layout.height, 2 * 8 + 5 * (NODE_HEIGHT + 14) - 14);
        assert_eq!(
            layout.edge_path(layout.edges[0]),
            "M158,23 C183,23 183,23 208,23"
        );
    }

    #[test]
    fn empty_and_unknown_needs_are_harmless() {
        let layout = layout(&[vertex("only", &["missing"])]);
        assert_eq!(placement(&layout), [("only".into(), 0, 0)]);
        assert!(layout.edges.is_empty());
        let empty = super::layout(&[]);
        assert!(empty.nodes.is_empty() && empty.width > 0 && empty.height > 0);
    }
}
