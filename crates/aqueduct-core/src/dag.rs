//! The task graph: upstream/downstream edges by index, a topological order, and cycle detection.

/// A directed acyclic graph of task indices.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dag {
    upstream: Vec<Vec<usize>>,
    downstream: Vec<Vec<usize>>,
    topo_order: Vec<usize>,
}

/// Why a graph could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DagError {
    /// `task` needs `need`, which is not a task of the pipeline.
    UnknownNeed { task: usize, need: String },
    /// The tasks form a cycle; the path starts and ends with the same task.
    Cycle(Vec<usize>),
}

impl Dag {
    /// Builds the graph from task names and each task's `needs` (by name). Reports every unknown
    /// need, or, when all needs resolve, the first cycle found.
    pub fn build(names: &[&str], needs: &[Vec<&str>]) -> Result<Dag, Vec<DagError>> {
        debug_assert_eq!(names.len(), needs.len());
        let mut errors = Vec::new();
        let mut upstream = vec![Vec::new(); names.len()];
        for (task, task_needs) in needs.iter().enumerate() {
            for need in task_needs {
                match names.iter().position(|name| name == need) {
                    Some(index) if !upstream[task].contains(&index) => upstream[task].push(index),
                    Some(_) => {}
                    None => errors.push(DagError::UnknownNeed {
                        task,
                        need: (*need).to_owned(),
                    }),
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut downstream = vec![Vec::new(); names.len()];
        for (task, ups) in upstream.iter().enumerate() {
            for &up in ups {
                downstream[up].push(task);
            }
        }
        let topo_order = topological_order(&upstream, &downstream)
            .map_err(|cycle| vec![DagError::Cycle(cycle)])?;
        Ok(Dag {
            upstream,
            downstream,
            topo_order,
        })
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.upstream.len()
    }

    /// Whether the graph has no task.
    pub fn is_empty(&self) -> bool {
        self.upstream.is_empty()
    }

    /// Direct upstream tasks of `task`.
    pub fn upstream(&self, task: usize) -> &[usize] {
        &self.upstream[task]
    }

    /// Direct downstream tasks of `task`.
    pub fn downstream(&self, task: usize) -> &[usize] {
        &self.downstream[task]
    }

    /// Every task, each after all of its upstreams; ties keep declaration order.
    pub fn topo_order(&self) -> &[usize] {
        &self.topo_order
    }

    /// Tasks without downstream: they decide a run's final state.
    pub fn leaves(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(|&task| self.downstream[task].is_empty())
    }

    /// Every task upstream of `task`, transitively, in topological order.
    pub fn ancestors(&self, task: usize) -> Vec<usize> {
        let mut seen = vec![false; self.len()];
        let mut stack = self.upstream[task].clone();
        while let Some(next) = stack.pop() {
            if !std::mem::replace(&mut seen[next], true) {
                stack.extend(&self.upstream[next]);
            }
        }
        self.topo_order
            .iter()
            .copied()
            .filter(|&t| seen[t])
            .collect()
    }

    /// `task` and every task downstream of it, transitively, in topological order.
    pub fn descendants_and_self(&self, task: usize) -> Vec<usize> {
        let mut seen = vec![false; self.len()];
        let mut stack = vec![task];
        while let Some(next) = stack.pop() {
            if !std::mem::replace(&mut seen[next], true) {
                stack.extend(&self.downstream[next]);
            }
        }
        self.topo_order
            .iter()
            .copied()
            .filter(|&t| seen[t])
            .collect()
    }
}

/// Kahn's algorithm, picking the lowest ready index first so the order is stable. On a cycle,
/// returns one cycle as a path that starts and ends with the same task.
fn topological_order(
    upstream: &[Vec<usize>],
    downstream: &[Vec<usize>],
) -> Result<Vec<usize>, Vec<usize>> {
    let mut missing: Vec<usize> = upstream.iter().map(Vec::len).collect();
    let mut ready: std::collections::BTreeSet<usize> =
        (0..upstream.len()).filter(|&t| missing[t] == 0).collect();
    let mut order = Vec::with_capacity(upstream.len());
    while let Some(task) = ready.pop_first() {
        order.push(task);
        for &down in &downstream[task] {
            missing[down] -= 1;
            if missing[down] == 0 {
                ready.insert(down);
            }
        }
    }
    if order.len() == upstream.len() {
        return Ok(order);
    }
    let start = (0..upstream.len())
        .find(|&t| missing[t] > 0)
        .expect("invariant: an incomplete order leaves a task with missing upstreams");
    Err(find_cycle(start, upstream, &missing))
}

/// Walks upstream edges among unresolved tasks from `start` until a task repeats.
fn find_cycle(start: usize, upstream: &[Vec<usize>], missing: &[usize]) -> Vec<usize> {
    let mut path = vec![start];
    let mut current = start;
    loop {
        let next = upstream[current]
            .iter()
            .copied()
            .find(|&up| missing[up] > 0)
            .expect("invariant: an unresolved task has an unresolved upstream");
        if let Some(position) = path.iter().position(|&t| t == next) {
            let mut cycle: Vec<usize> = path[position..].to_vec();
            cycle.reverse();
            cycle.insert(0, next);
            return cycle;
        }
        path.push(next);
        current = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(needs: &[&[&str]]) -> Result<Dag, Vec<DagError>> {
        let names = ["a", "b", "c", "d"];
        let needs: Vec<Vec<&str>> = needs.iter().map(|n| n.to_vec()).collect();
        Dag::build(&names[..needs.len()], &needs)
    }

    #[test]
    fn diamond() {
        let dag = build(&[&[], &["a"], &["a"], &["b", "c"]]).unwrap();
        assert_eq!(dag.topo_order(), [0, 1, 2, 3]);
        assert_eq!(dag.leaves().collect::<Vec<_>>(), [3]);
        assert_eq!(dag.ancestors(3), [0, 1, 2]);
        assert_eq!(dag.descendants_and_self(1), [1, 3]);
        assert_eq!(dag.upstream(3), [1, 2]);
    }

    #[test]
    fn declaration_order_does_not_matter() {
        let dag = build(&[&["b"], &[], &["a"]]).unwrap();
        assert_eq!(dag.topo_order(), [1, 0, 2]);
    }

    #[test]
    fn unknown_needs_are_all_reported() {
        let errors = build(&[&["x"], &["y", "a"]]).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert!(matches!(&errors[0], DagError::UnknownNeed { task: 0, need } if need == "x"));
    }

    #[test]
    fn cycle_is_named_in_dependency_order() {
        let errors = build(&[&[], &["a", "c"], &["b"]]).unwrap_err();
        assert_eq!(errors, [DagError::Cycle(vec![1, 2, 1])]);
        let errors = build(&[&["a"]]).unwrap_err();
        assert_eq!(errors, [DagError::Cycle(vec![0, 0])]);
    }
}
