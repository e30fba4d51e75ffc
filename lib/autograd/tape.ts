// The define-by-run tape: each differentiable op that has an input requiring grad records a node
// holding its inputs, a backward closure and the tensors it saved. backward() walks the nodes in
// reverse topological order, accumulating gradients, and frees each node's saved tensors as soon
// as the node has run (as PyTorch does without retain_graph).
import type { Tensor } from '../tensor.js';
import { keep } from './scope.js';

export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** The distinct inputs that require grad: each counts this node as a consumer until it is released. */
  readonly consumes: readonly Tensor[];
  /** Gradients for each input (null where the input needs none), given the output gradient. */
  backward: ((grad: Tensor) => (Tensor | null)[]) | null;
  readonly saved: Tensor[];
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn with gradient recording off (PyTorch's torch.no_grad()). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Whether an op on these inputs must be recorded. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  return gradEnabled && inputs.some((t) => t?.requiresGrad);
}

/**
 * Records `out = op(inputs)` with its backward. `saved` are the tensors backward reads; they are
 * held past any tidy scope and released when the node runs or its graph is dropped.
 */
export function record(
  op: string,
  inputs: Tensor[],
  out: Tensor,
  backward: (grad: Tensor) => (Tensor | null)[],
  saved: Tensor[] = [],
): void {
  for (const t of saved) t.holdForGraph();
  const consumes = [...new Set(inputs)].filter((t) => t.requiresGrad);
  for (const t of consumes) t.addConsumer();
  out.gradFn = { op, inputs, consumes, backward, saved };
  out.requiresGrad = true;
}

/** Frees a node's saved tensors and its hold on its inputs; returns the inputs left unneeded. */
function releaseNode(node: GradNode): Tensor[] {
  if (!node.backward) return [];
  node.backward = null;
  for (const t of node.saved) t.releaseFromGraph();
  node.saved.length = 0;
  return node.consumes.filter((t) => t.removeConsumer());
}

/**
 * Drops the graph behind a tensor nobody can use any more (disposed or let go by its scope, and
 * consumed by no live node), and, transitively, the graph behind its inputs in the same state:
 * without this, a forward that is never backpropagated would hold its saved tensors until GC.
 */
export function dropGraph(node: GradNode): void {
  const stack = [node];
  for (let n = stack.pop(); n; n = stack.pop())
    for (const input of releaseNode(n)) if (input.gradFn?.backward) stack.push(input.gradFn);
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>([root]);
  // Iterative post-order walk: the graph of a deep network would overflow a recursive one.
  const stack: [Tensor, number][] = [[root, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const inputs = top[0].gradFn?.inputs ?? [];
    if (top[1] < inputs.length) {
      const next = inputs[top[1]++];
      if (next.requiresGrad && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(top[0]);
    }
  }
  return order.reverse();
}

/**
 * Backpropagates from `root` with output gradient `grad` (owned by the caller). Leaves that
 * require grad accumulate into `.grad`; intermediate gradients are freed once consumed.
 * `add(a, b)` returns a new tensor a + b.
 */
export function runBackward(root: Tensor, grad: Tensor, add: (a: Tensor, b: Tensor) => Tensor): void {
  if (root.gradFn && root.gradFn.backward === null)
    throw new Error(`backward: the graph of this ${root.gradFn.op} output was already freed by an earlier backward()`);
  const grads = new Map<Tensor, Tensor>([[root, grad]]);
  const accumulate = (t: Tensor, g: Tensor) => {
    const prev = grads.get(t);
    if (!prev) {
      grads.set(t, g);
      return;
    }
    grads.set(t, add(prev, g));
    if (prev !== grad) prev.dispose();
    if (g !== grad) g.dispose();
  };
  const order = topoOrder(root);
  for (const t of order) {
    const g = grads.get(t);
    if (!g) continue;
    grads.delete(t);
    const node = t.gradFn;
    if (!node) {
      const owned = g === grad ? g.detachedCopy() : g;
      if (t.grad) {
        const sum = add(t.grad, owned);
        t.grad.dispose();
        owned.dispose();
        t.grad = keep(sum);
      } else {
        t.grad = keep(owned);
      }
      continue;
    }
    if (!node.backward)
      throw new Error(`backward: the graph through ${node.op} was already freed by an earlier backward()`);
    const inputGrads = node.backward(g);
    // The inputs' own nodes run later in this walk, so nothing upstream is dropped here.
    releaseNode(node);
    // A backward may pass its gradient through unchanged, or hand one tensor to two inputs:
    // every tensor entering the map must be owned by exactly one entry.
    const used = new Set<Tensor>();
    node.inputs.forEach((input, i) => {
      let ig = inputGrads[i];
      if (!ig || !input.requiresGrad) return;
      if (used.has(ig) || ig === g || ig === grad) ig = ig.detachedCopy();
      used.add(ig);
      accumulate(input, ig);
    });
    for (const ig of inputGrads) if (ig && !used.has(ig) && ig !== g && ig !== grad) ig.dispose();
    if (g !== grad) g.dispose();
  }
  // Nodes that received no gradient (a backward returned null for them) did not run.
  for (const t of order) t.dropGraphIfUnneeded();
}
