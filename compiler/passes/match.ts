/**
 * Small helpers for matching primitive subgraphs: producers, users and commutative operands.
 * A fusion may only swallow a value whose every user is inside the fused subgraph; `sole`
 * and `soleUser` enforce that one edge at a time.
 */
import type { Graph, Node, NodeOf, ValueRef } from "../ir/graph.ts";
import type { OpName } from "../ir/ops.ts";

export class Matcher {
  private readonly users: number[][][];

  constructor(readonly g: Graph) {
    this.users = g.nodes.map((n) => n.results.map(() => []));
    for (const n of g.nodes) for (const r of n.inputs) this.users[r.node]![r.index]!.push(n.id);
    for (const o of g.outputs) this.users[o.value.node]![o.value.index]!.push(-1); // -1: a graph output
  }

  /** The nodes reading `r` (one entry per input slot; -1 for a graph output). */
  usersOf(r: ValueRef): readonly number[] {
    return this.users[r.node]![r.index]!;
  }

  /** The producer of `r` when it is result 0 of an `op` node. */
  producer<K extends OpName>(r: ValueRef, op: K): NodeOf<K> | null {
    const n = this.g.nodes[r.node] as Node;
    return r.index === 0 && n.op === op ? (n as NodeOf<K>) : null;
  }

  /** The producer of `r` when it is an `op` node and `r` has exactly one user. */
  sole<K extends OpName>(r: ValueRef, op: K): NodeOf<K> | null {
    return this.usersOf(r).length === 1 ? this.producer(r, op) : null;
  }

  /** The only user of `r` when it is an `op` node. */
  soleUser<K extends OpName>(r: ValueRef, op: K): NodeOf<K> | null {
    const us = this.usersOf(r);
    if (us.length !== 1 || us[0]! < 0) return null;
    const n = this.g.nodes[us[0]!] as Node;
    return n.op === op ? (n as NodeOf<K>) : null;
  }
}

/** Tries `f(a, b)` then `f(b, a)` on the two operands of a commutative node. */
export function commuted<T>(n: Node | null, f: (a: ValueRef, b: ValueRef) => T | null): T | null {
  if (n === null || n.inputs.length !== 2) return null;
  return f(n.inputs[0]!, n.inputs[1]!) ?? f(n.inputs[1]!, n.inputs[0]!);
}

/** The operand of a two-input node that is not `x`, or null when `x` is not one of them. */
export function otherThan(n: Node, x: ValueRef): ValueRef | null {
  const [a, b] = n.inputs;
  if (a!.node === x.node && a!.index === x.index) return b!;
  if (b!.node === x.node && b!.index === x.index) return a!;
  return null;
}

/** `A = neg(exp(A_log))` with both nodes read once: pushes them to `interior`, returns A_log (else null). */
export function negExpOf(m: Matcher, A: ValueRef, interior: Node[]): ValueRef | null {
  const neg = m.sole(A, "neg");
  const exp = neg && m.sole(neg.inputs[0]!, "exp");
  if (!neg || !exp) return null;
  interior.push(neg, exp);
  return exp.inputs[0]!;
}
