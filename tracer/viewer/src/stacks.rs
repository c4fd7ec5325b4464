//! The model's stack table: every distinct stack of the trace, interned
//! across generations (a trace's stack IDs restart each generation; these
//! indices do not), with frame names as indices into the model's strings.
//!
//! Invariants: index 0 is the empty stack ("no stack"); two stacks with
//! the same frames (PC, function, file, line) get the same index; frames
//! are innermost first, as in the trace.

use std::collections::HashMap;

use crate::read::{Generation, StackId};

/// One frame of an interned stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Frame {
    /// Program counter as recorded (spool: a synthetic unique value per site).
    pub pc: u64,
    /// Function name (model string index).
    pub func: u32,
    /// File name (model string index).
    pub file: u32,
    /// Line number.
    pub line: u32,
}

/// Interned stacks; see the module invariants.
///
/// ```
/// let t = spool_trace::stacks::StackTable::default();
/// assert!(t.frames(0).is_empty());
/// assert_eq!(t.len(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct StackTable {
    stacks: Vec<Vec<Frame>>,
    index: HashMap<Vec<Frame>, u32>,
    /// This generation's stack ID -> index (cleared when the generation changes).
    by_id: HashMap<StackId, u32>,
    generation: Option<u64>,
}

impl Default for StackTable {
    fn default() -> Self {
        StackTable {
            stacks: vec![Vec::new()],
            index: HashMap::from([(Vec::new(), 0)]),
            by_id: HashMap::new(),
            generation: None,
        }
    }
}

impl StackTable {
    /// Number of stacks, the empty one included.
    pub fn len(&self) -> usize {
        self.stacks.len()
    }

    /// Always false: the empty stack is always there.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Frames of stack `i`, innermost first (empty for 0 or an unknown index).
    pub fn frames(&self, i: u32) -> &[Frame] {
        self.stacks.get(i as usize).map_or(&[], Vec::as_slice)
    }

    /// Every stack, by index.
    pub fn all(&self) -> &[Vec<Frame>] {
        &self.stacks
    }

    /// The index of generation `g`'s stack `id`; `string` interns a name.
    pub fn intern(
        &mut self,
        g: &Generation,
        id: StackId,
        mut string: impl FnMut(&str) -> u32,
    ) -> u32 {
        if id == 0 {
            return 0;
        }
        if self.generation != Some(g.number) {
            self.generation = Some(g.number);
            self.by_id.clear();
        }
        if let Some(&i) = self.by_id.get(&id) {
            return i;
        }
        let frames: Vec<Frame> = g
            .stack(id)
            .iter()
            .map(|f| Frame {
                pc: f.pc,
                func: string(g.string(f.func)),
                file: string(g.string(f.file)),
                line: u32::try_from(f.line).unwrap_or(u32::MAX),
            })
            .collect();
        let next = self.stacks.len() as u32;
        let i = *self.index.entry(frames.clone()).or_insert(next);
        if i == next {
            self.stacks.push(frames);
        }
        self.by_id.insert(id, i);
        i
    }
}
